"""Trigger: an ECR push event becomes one deployment execution (or a clear refusal)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import wiring
from bluegreen.clock import now
from bluegreen.config import ServiceCatalog
from bluegreen.observability import logger, metrics
from bluegreen.push import EcrPushEvent
from bluegreen.settings import ChannelSettings, TriggerSettings, load
from bluegreen.steps.trigger import Channel, on_push


@cache
def catalog() -> ServiceCatalog:
    """The installation's service configuration, read and validated once per cold start.

    An invalid one fails every invocation (nothing is cached then): the pushes land in the
    failed-events queue and raise its alarm, and the next invocation reads it again.
    """
    name = load(TriggerSettings).SERVICES_PARAMETER_NAME
    return ServiceCatalog.parse(wiring.parameters().text(name), f"SSM parameter {name}")


def channel() -> Channel:
    """Where a refused push is told: built on the first refusal, not at every cold start."""
    settings = load(ChannelSettings)
    return Channel(
        wiring.state_table(),
        wiring.topic(settings.TOPIC_ARN),
        wiring.slack(settings.SLACK_BOT_TOKEN_SECRET_NAME, settings.SLACK_API_URL),
    )


@logger.inject_lambda_context(correlation_id_path="id")
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    push = EcrPushEvent.model_validate(event)
    result = on_push(
        push.detail,
        push.account,
        push.region,
        catalog(),
        wiring.images(),
        wiring.executions(),
        channel,
        now(),
    )
    for answer in result.per_service or [result]:  # a repository may feed several services
        metrics.add_metric(name=f"Push{answer.outcome.capitalize()}", unit="Count", value=1)
        for problem in answer.problems:
            metrics.add_metric(name="NotificationFailures", unit="Count", value=1)
            logger.error("refusal not told", problem=problem, service=answer.service)
        log = logger.warning if answer.outcome == "refused" else logger.info
        log(
            f"push {answer.outcome}",
            outcome=answer.outcome,
            reason=answer.reason,
            service=answer.service,
            execution_name=answer.execution_name,
            announced=answer.announced,
        )
    return result.model_dump(mode="json")
