"""TakeTurn: take the service's lock, or wait behind the deployment that holds it."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import wiring
from bluegreen.clock import now
from bluegreen.models import TurnTask
from bluegreen.observability import STATE_EXECUTION_NAME, logger, metrics
from bluegreen.steps.queue import take_turn


@logger.inject_lambda_context(correlation_id_path=STATE_EXECUTION_NAME)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = TurnTask.model_validate(event)
    queued = take_turn(
        task,
        wiring.state_table(),
        wiring.task_callbacks(),
        wiring.execution_statuses(task.state_machine_arn),
        wiring.recovery(),
        lambda: wiring.task_definitions(task.state.service),
        now(),
    )
    behind = queued.behind.execution if queued.behind else None
    logger.info("turn taken" if behind is None else "waiting for the turn", behind=behind)
    metrics.add_metric(
        name="TurnsTaken" if behind is None else "TurnsQueued", unit="Count", value=1
    )
    # Kept in the execution's history (TaskSubmitted): whom it waits behind.
    return {"acquired": behind is None, "behind": behind}
