"""Approval API (HTTP API): GET shows the request, POST records the decision, and Slack's
clicks arrive at POST /slack/interactions.

A GET never changes anything (mail scanners and link unfurlers follow links); the POST must
carry the one-time nonce from the page. A Slack interaction must carry Slack's signature.
Errors become plain pages: never exception text.
"""

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import pages, wiring
from bluegreen.clock import now
from bluegreen.domain.approval import ApprovalRecord, LinkParams
from bluegreen.domain.queue import after_approval
from bluegreen.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalLinkInvalid,
    ApprovalNotFound,
    SlackRequestInvalid,
    Superseded,
)
from bluegreen.http_api import Request, json_response, response
from bluegreen.observability import logger, metrics
from bluegreen.settings import ApprovalApiSettings, load
from bluegreen.steps import approval
from pydantic import ValidationError

_REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    ApprovalLinkInvalid: (403, "Link not valid", "This approval link is not valid."),
    ApprovalNotFound: (404, "Not found", "There is no such approval request."),
    ApprovalExpired: (410, "Expired", "This approval request has expired; nothing was changed."),
    ApprovalAlreadyDecided: (
        409,
        "Already used",
        "This request was already decided, or this form was already used. Open the link again "
        "to see its current state.",
    ),
    ValidationError: (400, "Bad request", "The link or form is incomplete."),
}


def _page(status: int, body: str) -> dict[str, Any]:
    return response(status, pages.HEADERS, body)


def _link_params(request: Request) -> LinkParams:
    return LinkParams.model_validate(request.query)


def _settings() -> ApprovalApiSettings:
    settings: ApprovalApiSettings = load(ApprovalApiSettings)
    return settings


def _key() -> bytes:
    return wiring.signing_key(_settings().SIGNING_SECRET_ARN)


def _slack() -> approval.Slack | None:
    settings = _settings()
    return wiring.slack(settings.SLACK_BOT_TOKEN_SECRET_NAME, settings.SLACK_API_URL)


def _console_link(record: ApprovalRecord) -> str | None:
    """The execution in the Step Functions console, where the deployment can be followed."""
    machine = _settings().STATE_MACHINE_ARN
    if not machine:
        return None
    region = machine.split(":")[3]
    execution = machine.replace(":stateMachine:", ":execution:") + f":{record.execution_name}"
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution}"
    )


def _next_step(record: ApprovalRecord) -> str:
    """What an approval does now, in words (it may wait for another deployment, or never run)."""
    queue = wiring.state_table().service_queue(f"{record.cluster}/{record.ecs_service}")
    return after_approval(record.execution_name, queue)


def _decided(record: ApprovalRecord, channel: str) -> None:
    metrics.add_metric(name=f"Approval{record.status.capitalize()}", unit="Count", value=1)
    logger.info(
        "approval decided",
        approval_id=record.approval_id,
        status=record.status,
        by=record.decided_by,
        reason=record.reason,
        channel=channel,
        execution_name=record.execution_name,
    )


def show(request: Request, approval_id: str) -> dict[str, Any]:
    moment = now()
    review = approval.review(
        approval_id, _link_params(request), wiring.state_table(), _key(), moment
    )
    action = f"{request.raw_path}?{request.raw_query_string}"
    return _page(200, pages.review_page(review, action, moment))


def decide(request: Request, approval_id: str) -> dict[str, Any]:
    form = {k: v[0] for k, v in parse_qs(request.body).items()}
    decision = form.get("decision")
    if decision not in ("approve", "reject") or not form.get("nonce"):
        return _page(400, pages.message_page("Bad request", "Choose approve or reject."))
    moment = now()
    record = approval.decide(
        approval_id,
        _link_params(request),
        form["nonce"],
        decision,  # type: ignore[arg-type]
        wiring.state_table(),
        wiring.task_callbacks(),
        _key(),
        moment,
        reason=form.get("reason"),
    )
    _decided(record, "email")
    verb = _next_step(record) if record.status == "approved" else "rejected; nothing changes"
    problem = approval.show_in_slack(record, _slack(), moment, verb)
    if problem:
        logger.warning(problem, approval_id=approval_id)
    heading, _ = pages.headline(record)
    return _page(
        200,
        pages.message_page(
            heading,
            f"{record.service} {record.image_tag} {verb}.",
            _console_link(record),
            record.execution_name,
            decision=record.status,
        ),
    )


def slack_interaction(request: Request) -> dict[str, Any]:
    """A click or a modal submission, verified as Slack's before anything is read."""
    from bluegreen.adapters.slack import verify_request
    from bluegreen.steps.slack_interactions import interact

    settings = _settings()
    secret = wiring.slack_signing_secret(settings.SLACK_SIGNING_SECRET_NAME)
    slack = _slack()
    if not secret or slack is None:
        logger.warning("Slack interaction refused: Slack is not configured")
        return json_response(404, {"message": "Slack is not configured"})
    try:
        verify_request(secret, request.body, request.headers)
    except SlackRequestInvalid:
        logger.warning("Slack interaction refused: signature or timestamp")
        metrics.add_metric(name="SlackRequestRefused", unit="Count", value=1)
        return json_response(401, {"message": "invalid signature"})
    import json

    payload = json.loads(parse_qs(request.body).get("payload", ["{}"])[0])
    answer = interact(
        payload, wiring.state_table(), wiring.task_callbacks(), slack, now(), _next_step
    )
    logger.info(
        "Slack interaction",
        kind=payload.get("type"),
        user=payload.get("user", {}).get("id"),
        answered=answer is not None,
    )
    return json_response(200, answer)


def refuse(error: Exception) -> dict[str, Any]:
    if isinstance(error, Superseded):  # our own words, naming the newer image
        logger.info("approval refused", reason="Superseded")
        text = f"This request was {error}; it accepts no decision. Nothing was changed."
        return _page(409, pages.message_page("Superseded", text))
    for kind, (status, heading, text) in _REFUSALS.items():
        if isinstance(error, kind):
            logger.info("approval refused", reason=type(error).__name__)
            return _page(status, pages.message_page(heading, text))
    logger.exception("approval API failure")
    return _page(500, pages.message_page("Something went wrong", "Nothing was changed."))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = Request.of(event)
    if request.route_key == "POST /slack/interactions":
        try:
            return slack_interaction(request)
        except Exception:  # Slack shows its own error; the details stay in the log
            logger.exception("Slack interaction failure")
            return json_response(500, {"message": "internal error"})
    route = {"GET": show, "POST": decide}.get(request.method)
    approval_id = request.path_parameters.get("approval_id")
    if route is None or not approval_id:
        return _page(404, pages.message_page("Not found", "There is no such page."))
    try:
        return route(request, approval_id)
    except Exception as error:  # every failure is a plain page, never exception text
        return refuse(error)
