"""Secrets Manager: the approval signing key and the Slack webhook URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bluegreen.adapters.aws import translated

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
        """The secret, or None when the installation has not created it (feature off)."""
        if not secret_id:
            return None
        try:
            return self.get(secret_id)
        except self._sm.exceptions.ResourceNotFoundException:
            return None
