"""Promote: record what the environment runs now; start the next environment's deployment."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import wiring
from bluegreen.clock import now
from bluegreen.config import ServiceCatalog
from bluegreen.models import DeploymentState
from bluegreen.observability import EXECUTION_NAME, logger, metrics
from bluegreen.settings import TriggerSettings, load
from bluegreen.steps.promotion import promote


def catalog() -> ServiceCatalog:
    """The service configuration as it is now (read at each promotion, which is rare: a
    pipeline changed since the push promotes along the new one)."""
    # The trigger's settings: the same state machine, the same configuration.
    name = load(TriggerSettings).SERVICES_PARAMETER_NAME
    return ServiceCatalog.parse(wiring.parameters().text(name), f"SSM parameter {name}")


@logger.inject_lambda_context(correlation_id_path=EXECUTION_NAME)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = DeploymentState.model_validate(event)
    promoted = promote(state, catalog, wiring.state_table(), wiring.executions(), now())
    promotion = promoted.promotion
    assert promotion is not None
    metrics.add_metric(name=f"Promotion_{promotion.outcome}", unit="Count", value=1)
    logger.info(
        "promotion",
        outcome=promotion.outcome,
        to=promotion.to,
        execution=promotion.execution_name,
        detail=promotion.detail,
    )
    return promoted.dump()
