"""SSM Parameter Store: the installation's service configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bluegreen.adapters.aws import error_code, translated
from bluegreen.errors import ConfigurationInvalid

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class Parameters:
    def __init__(self, client: SSMClient) -> None:
        self._ssm = client

    def text(self, name: str) -> str:
        """The value of the String parameter ``name``.

        A missing or unreadable parameter is a configuration problem, named as such: IAM
        answers AccessDeniedException for a parameter outside the caller's policy, whether
        or not it exists.
        """
        source = f"SSM parameter {name}"
        with translated():
            try:
                found = self._ssm.get_parameter(Name=name)["Parameter"]
            except ClientError as e:
                code = error_code(e)
                if code == "ParameterNotFound":
                    raise ConfigurationInvalid(source, ["does not exist"]) from e
                if code in ("AccessDeniedException", "AccessDenied"):
                    raise ConfigurationInvalid(
                        source, ["may not be read here (AccessDeniedException)"]
                    ) from e
                raise
        if found.get("Type") != "String":
            # A SecureString would be read as ciphertext; the configuration holds no secret.
            raise ConfigurationInvalid(
                source, [f"is a {found.get('Type')}; store the configuration as a String"]
            )
        return str(found.get("Value", ""))
