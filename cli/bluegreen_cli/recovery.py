"""A service's lock as an operator sees it, and asking the janitor to recover it.

``bluegreen recover`` (in :mod:`bluegreen_cli.commands.ops`) prints; this module reads the
lock with the layer's own ``StateTable``, describes its owner with the janitor's own
``ExecutionStatuses``, finds the janitor function, and invokes it with the recovery request
``{"recover": "<cluster>/<service>"}`` so that the recovery is exactly the janitor's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from bluegreen.adapters.aws import error_code
from bluegreen.adapters.stepfunctions import ExecutionStatuses
from bluegreen.adapters.store import StateTable
from bluegreen.domain.recovery import MISSING
from botocore.exceptions import ClientError

from bluegreen_cli.account import OpsError

# The template's Output naming the janitor, and the logical id SAM names the function after.


@dataclass(frozen=True)
class LockView:
    """A service's lock: who holds it since when, whether that one runs, what it saved."""

    key: str
    owner: str | None
    since: str | None = None
    owner_status: str | None = None  # a Step Functions status, or MISSING
    ended: str | None = None  # when the owner ended (ISO 8601), if it did
    snapshot: dict[str, Any] | None = None  # the scaling it saved before suspending

    @property
    def held(self) -> bool:
        return self.owner is not None

    @property
    def owner_running(self) -> bool:
        return self.owner_status in ("RUNNING", "PENDING_REDRIVE")

    @property
    def held_by_ended_owner(self) -> bool:
        return self.held and not self.owner_running

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def lock_view(table: StateTable, executions: ExecutionStatuses, key: str) -> LockView:
    lock = table.lock(key) or {}
    owner = lock.get("owner")
    if not owner:
        return LockView(key, None)
    execution = executions.describe(str(owner))
    snapshot = lock.get("snapshot")
    return LockView(
        key,
        str(owner),
        since=lock.get("since"),
        owner_status=execution.status if execution else MISSING,
        ended=execution.stopped_at.isoformat() if execution and execution.stopped_at else None,
        snapshot=json.loads(snapshot) if isinstance(snapshot, str) else None,
    )


def janitor_function(stack: str) -> str:
    """The janitor's name: template.yaml names it after the stack (TakeTurn calls it so)."""
    return f"{stack}-janitor"


def invoke_recovery(lambda_client: Any, function: str, key: str) -> dict[str, Any]:
    """The janitor's report on the lock of ``key``, run synchronously."""
    try:
        answer = lambda_client.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps({"recover": key}).encode(),
        )
    except ClientError as e:
        raise OpsError(f"cannot invoke the janitor {function}: {error_code(e)}: {e}") from e
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        what = payload if isinstance(payload, dict) else {}
        raise OpsError(
            f"the janitor failed: {what.get('errorType', 'error')}: {what.get('errorMessage')}"
        )
    reports = payload.get("locks") if isinstance(payload, dict) else None
    if not isinstance(reports, list) or len(reports) != 1:
        raise OpsError(f"the janitor answered no report: {payload!r}")
    report: dict[str, Any] = reports[0]
    return report
