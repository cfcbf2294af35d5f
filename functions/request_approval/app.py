"""RequestApproval: keep the task token server-side, send each approver a signed link, and
post the request with its buttons to the service's Slack channel."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import wiring
from bluegreen.clock import now
from bluegreen.models import ApprovalTask
from bluegreen.observability import STATE_EXECUTION_NAME, logger, metrics
from bluegreen.settings import ApprovalRequestSettings, load
from bluegreen.steps import approval


@logger.inject_lambda_context(correlation_id_path=STATE_EXECUTION_NAME)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load(ApprovalRequestSettings)
    requested = approval.request(
        ApprovalTask.model_validate(event),
        wiring.state_table(),
        wiring.state_table(),
        wiring.mailer(settings.SENDER_EMAIL),
        wiring.slack(settings.SLACK_BOT_TOKEN_SECRET_NAME, settings.SLACK_API_URL),
        wiring.signing_key(settings.SIGNING_SECRET_ARN),
        settings.APPROVAL_BASE_URL,
        now(),
        runs=wiring.state_table(),
    )
    logger.info(
        "approval requested",
        approval_id=requested.approval_id,
        emails=requested.emails_sent,
        slack=requested.slack_sent,
    )
    for miss in requested.unreached:
        logger.warning(
            "approver not reached",
            approval_id=requested.approval_id,
            recipient=miss.recipient,
            reason=miss.reason,
        )
    if requested.slack_error:
        logger.warning(requested.slack_error, approval_id=requested.approval_id)
    metrics.add_metric(name="ApprovalsRequested", unit="Count", value=1)
    if requested.unreached:
        metrics.add_metric(name="ApproversUnreached", unit="Count", value=len(requested.unreached))
    # Kept in the execution's history (TaskSubmitted): who was asked, and who was not.
    return {
        "approval_id": requested.approval_id,
        "emailed": requested.emailed,
        "unreached": [{"recipient": u.recipient, "reason": u.reason} for u in requested.unreached],
        "slack": requested.slack_sent,
    }
