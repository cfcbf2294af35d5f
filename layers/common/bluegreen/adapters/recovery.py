"""Ask the janitor to recover a service's lock (it alone holds the rights to undo)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bluegreen.adapters.aws import translated

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class JanitorRecovery:
    def __init__(self, client: LambdaClient, function_name: str) -> None:
        self._lambda = client
        self._function = function_name

    def request(self, lock_key: str) -> None:
        """Asynchronously: the janitor may wait for a rollback; the caller must not."""
        with translated():
            self._lambda.invoke(
                FunctionName=self._function,
                InvocationType="Event",
                Payload=json.dumps({"recover": lock_key}).encode(),
            )
