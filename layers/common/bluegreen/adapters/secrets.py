"""Secrets Manager: the approval signing key and the Slack webhook URL."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bluegreen.adapters.aws import error_code, translated

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class Secrets:
    def __init__(self, client: SecretsManagerClient) -> None:
        self._sm = client
        self._cache: dict[str, str] = {}

    def get(self, secret_id: str) -> str:
        if secret_id not in self._cache:
            with translated():
                found = self._sm.get_secret_value(SecretId=secret_id)
            self._cache[secret_id] = str(found["SecretString"])
        return self._cache[secret_id]

    def get_optional(self, secret_id: str) -> str | None:
        """The secret, or None when there is none to read (the feature is off).

        A secret the role may not read answers AccessDeniedException, even when it does not
        exist: an optional feature that cannot be read is skipped and logged, never fatal.
        """
        if not secret_id:
            return None
        try:
            return self.get(secret_id)
        except ClientError as e:
            if error_code(e) not in ("ResourceNotFoundException", "AccessDeniedException"):
                raise
            log.warning("optional secret %s skipped: %s", secret_id, error_code(e))
            return None
