"""Step Functions: start a deployment execution, answer an approval's callback, describe one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bluegreen.adapters.aws import error_code, translated
from bluegreen.errors import ApprovalExpired

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from bluegreen.domain.recovery import OwnerExecution


class Executions:
    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, name: str, document: dict[str, Any]) -> tuple[str, bool]:
        """Start ``name``; (arn, False) when it already exists, i.e. a duplicated event."""
        body = json.dumps(document, sort_keys=True)
        try:
            with translated():
                started = self._sfn.start_execution(
                    stateMachineArn=self._arn, name=name, input=body
                )
        except ClientError as e:
            # Only the SDK's own error has a code; AwsThrottled (from translated) goes on up.
            if error_code(e) == "ExecutionAlreadyExists":
                arn = self._arn.replace(":stateMachine:", ":execution:") + f":{name}"
                return arn, False
            raise
        return str(started["executionArn"]), True


class TaskCallbacks:
    def __init__(self, client: SFNClient) -> None:
        self._sfn = client

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        self._send(lambda: self._sfn.send_task_success(taskToken=token, output=json.dumps(output)))

    def fail(self, token: str, error: str, cause: str) -> None:
        self._send(lambda: self._sfn.send_task_failure(taskToken=token, error=error, cause=cause))

    @staticmethod
    def _send(call: Callable[[], object]) -> None:
        expired = {
            "TaskTimedOut": ApprovalExpired,
            "InvalidToken": ApprovalExpired,
            "TaskDoesNotExist": ApprovalExpired,
        }
        with translated(expired):
            call()


class ExecutionStatuses:
    """The deploy state machine's executions, looked up by name (a lock names its owner)."""

    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def arn(self, name: str) -> str:
        return self._arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def describe(self, name: str) -> OwnerExecution | None:
        """The execution, or None when Step Functions knows none of that name."""
        from bluegreen.domain.recovery import OwnerExecution

        try:
            with translated():
                found = self._sfn.describe_execution(executionArn=self.arn(name))
        except ClientError as e:
            if error_code(e) == "ExecutionDoesNotExist":
                return None
            raise
        return OwnerExecution(
            name=name,
            status=str(found["status"]),
            input=found.get("input"),
            stopped_at=found.get("stopDate"),
        )
