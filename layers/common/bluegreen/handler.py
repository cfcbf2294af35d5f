"""The shape every state machine step's handler shares.

Powertools decorators stacked the same way everywhere: the execution name is the
correlation id, metrics are flushed (traces come from Lambda's active tracing). The step
itself receives the validated execution state and the time, and returns the new state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.clock import now
from bluegreen.models import DeploymentState
from bluegreen.observability import EXECUTION_NAME, logger, metrics

Step = Callable[[DeploymentState, datetime], DeploymentState]
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def state_step(step: Step) -> Handler:
    @logger.inject_lambda_context(correlation_id_path=EXECUTION_NAME)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        state = DeploymentState.model_validate(event)
        result = step(state, now()).dump()
        # One datapoint per step, per function: how often each step of the flow completes.
        if "function" not in metrics.default_dimensions:  # once per cold start
            metrics.set_default_dimensions(function=context.function_name)
        metrics.add_metric(name="StepCompleted", unit="Count", value=1)
        return result

    return cast(Handler, handler)
