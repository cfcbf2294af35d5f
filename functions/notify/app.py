"""Notify: the outcome to SNS subscribers and Slack, and into the service's history."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import wiring
from bluegreen.clock import now
from bluegreen.models import DeploymentState
from bluegreen.observability import EXECUTION_NAME, logger, metrics
from bluegreen.settings import NotifySettings, load
from bluegreen.steps.notify import notify


@logger.inject_lambda_context(correlation_id_path=EXECUTION_NAME)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load(NotifySettings)
    state = DeploymentState.model_validate(event)
    notified = notify(
        state,
        wiring.topic(settings.TOPIC_ARN),
        wiring.slack(settings.SLACK_BOT_TOKEN_SECRET_NAME, settings.SLACK_API_URL),
        wiring.state_table(),
        wiring.mailer(settings.SENDER_EMAIL),
        now(),
    )
    metrics.add_metric(name=f"Deployment_{notified.outcome}", unit="Count", value=1)
    for problem in notified.problems:
        metrics.add_metric(name="NotificationFailures", unit="Count", value=1)
        logger.error("notification failed", problem=problem)
    logger.info("deployment finished", outcome=notified.outcome)
    return notified.state.dump()
