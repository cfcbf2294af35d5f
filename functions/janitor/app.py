"""Janitor: an execution ended ABORTED or TIMED_OUT; undo what its Catch never could."""

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import wiring
from bluegreen.clock import now
from bluegreen.models import DeploymentState
from bluegreen.observability import logger, metrics
from bluegreen.steps.janitor import clean_up


@logger.inject_lambda_context(correlation_id_path="detail.name")
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = event["detail"]
    state = DeploymentState.model_validate(json.loads(detail["input"]))
    # stopDate: when the execution ended (epoch milliseconds); a retry sees it grow older.
    ended = datetime.fromtimestamp(int(detail["stopDate"]) / 1000, UTC)
    moment = now()
    done = clean_up(
        state,
        wiring.deployments(),
        wiring.scalable_targets(),
        wiring.state_table(),
        moment - ended,
        wiring.task_callbacks(),
        moment,
    )
    metrics.add_metric(name="ExecutionsCleanedUp", unit="Count", value=1)
    logger.warning("cleaned up after execution", status=detail.get("status"), actions=done)
    return {"execution_name": state.execution_name, "actions": done}
