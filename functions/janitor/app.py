"""Janitor: undo what an execution left when no Catch of its own could.

Three inputs: an execution's status change (ABORTED, TIMED_OUT, FAILED: clean up after that
execution), EventBridge's Scheduled Event (sweep: every lock whose owner has ended, for the
status changes that were lost), and ``{"recover": "<cluster>/<service>"}`` (that one lock,
asked by an operator or the next deployment). The last two answer a report per lock.

CodeDeploy and scaling are acted on where the execution's service runs: through its
environment's role when that is in another account.
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import wiring
from bluegreen.clock import now
from bluegreen.domain.recovery import LockReport
from bluegreen.errors import LocksNotRecovered
from bluegreen.models import DeploymentState, ServiceConfig
from bluegreen.observability import logger, metrics
from bluegreen.steps.janitor import Reached, clean_up, recover, sweep

STATUS_CHANGE = "Step Functions Execution Status Change"
SCHEDULED = "Scheduled Event"
# A service's lock key: cluster/service, after the account and region it is in when they
# are not the app's (111111111111/eu-west-1:cluster/service; see ServiceConfig.lock_key).
LOCK_KEY = re.compile(
    r"^(?:(?:\d{12}(?:/[a-z]{2}(?:-[a-z]+)+-\d)?|[a-z]{2}(?:-[a-z]+)+-\d):)?"
    r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$"
)


def reach(service: ServiceConfig | None) -> Reached:
    """CodeDeploy and scaling where ``service`` runs (None: the app's own account)."""
    return Reached(wiring.deployments(service), wiring.scalable_targets(service))


@logger.inject_lambda_context(correlation_id_path="detail.name")
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == STATUS_CHANGE:
        return _after_execution(event["detail"])
    if event.get("source") == "aws.events" and event.get("detail-type") == SCHEDULED:
        reports = sweep(
            wiring.execution_statuses(),
            reach,
            wiring.state_table(),
            wiring.task_callbacks(),
            now(),
        )
        _account(reports)
        failed = [r for r in reports if r.outcome == "failed"]
        if failed:
            # Retried by Lambda, then the failed-events queue and its alarm: a lock the
            # janitor cannot recover needs someone.
            raise LocksNotRecovered("; ".join(f"{r.lock}: {' '.join(r.actions)}" for r in failed))
        return {"locks": [r.to_json() for r in reports]}
    key = event.get("recover")
    if isinstance(key, str) and LOCK_KEY.match(key):
        report = recover(
            key,
            wiring.execution_statuses(),
            reach,
            wiring.state_table(),
            wiring.task_callbacks(),
            now(),
        )
        _account([report])
        return {"locks": [report.to_json()]}
    raise ValueError(
        "expected an execution status change, a Scheduled Event or "
        '{"recover": "<lock key: [<account>[/<region>]:]<cluster>/<service>>"}'
    )


def _after_execution(detail: dict[str, Any]) -> dict[str, Any]:
    state = DeploymentState.model_validate(json.loads(detail["input"]))
    # stopDate: when the execution ended (epoch milliseconds); a retry sees it grow older.
    ended = datetime.fromtimestamp(int(detail["stopDate"]) / 1000, UTC)
    moment = now()
    done = clean_up(
        state,
        wiring.deployments(state.service),
        wiring.scalable_targets(state.service),
        wiring.state_table(),
        moment - ended,
        wiring.task_callbacks(),
        moment,
    )
    metrics.add_metric(name="ExecutionsCleanedUp", unit="Count", value=1)
    logger.warning("cleaned up after execution", status=detail.get("status"), actions=done)
    return {"execution_name": state.execution_name, "actions": done}


def _account(reports: list[LockReport]) -> None:
    recovered = [r for r in reports if r.outcome == "recovered"]
    held = [r for r in reports if r.still_held_by_ended_owner]
    metrics.add_metric(name="LocksRecovered", unit="Count", value=len(recovered))
    metrics.add_metric(name="LocksLeftHeld", unit="Count", value=len(held))
    for report in reports:
        if report.outcome in ("recovered", "waiting", "failed"):
            level = logger.error if report.outcome == "failed" else logger.warning
            level("lock of an ended execution", **report.to_json())
        else:
            logger.info("lock", **report.to_json())
