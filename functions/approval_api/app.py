"""Approval API (HTTP API): GET shows the request, POST records the decision.

A GET never changes anything (mail scanners and link unfurlers follow links); the POST must
carry the one-time nonce from the page. Errors become plain pages: never exception text.
"""

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import pages, wiring
from bluegreen.clock import now
from bluegreen.domain.approval import LinkParams
from bluegreen.domain.queue import after_approval
from bluegreen.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalLinkInvalid,
    ApprovalNotFound,
    Superseded,
)
from bluegreen.http_api import Request, response
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


def _key() -> bytes:
    return wiring.signing_key(load(ApprovalApiSettings).SIGNING_SECRET_ARN)


def show(request: Request, approval_id: str) -> dict[str, Any]:
    review = approval.review(
        approval_id, _link_params(request), wiring.state_table(), _key(), now()
    )
    action = f"{request.raw_path}?{request.raw_query_string}"
    return _page(200, pages.review_page(review, action))


def decide(request: Request, approval_id: str) -> dict[str, Any]:
    form = {k: v[0] for k, v in parse_qs(request.body).items()}
    decision = form.get("decision")
    if decision not in ("approve", "reject") or not form.get("nonce"):
        return _page(400, pages.message_page("Bad request", "Choose approve or reject."))
    record = approval.decide(
        approval_id,
        _link_params(request),
        form["nonce"],
        decision,  # type: ignore[arg-type]
        wiring.state_table(),
        wiring.task_callbacks(),
        _key(),
        now(),
    )
    metrics.add_metric(name=f"Approval{record.status.capitalize()}", unit="Count", value=1)
    logger.info(
        "approval decided",
        approval_id=approval_id,
        status=record.status,
        by=record.decided_by,
        execution_name=record.execution_name,
    )
    if record.status == "approved":
        queue = wiring.state_table().service_queue(f"{record.cluster}/{record.ecs_service}")
        verb = after_approval(record.execution_name, queue)
    else:
        verb = "rejected; nothing changes"
    return _page(
        200,
        pages.message_page(
            f"Deployment {record.status}", f"{record.service} {record.image_tag} {verb}."
        ),
    )


# The template's two routes: GET and POST /approvals/{approval_id}.
_ROUTES = {"GET": show, "POST": decide}


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
    route = _ROUTES.get(request.method)
    approval_id = request.path_parameters.get("approval_id")
    if route is None or not approval_id:
        return _page(404, pages.message_page("Not found", "There is no such page."))
    try:
        return route(request, approval_id)
    except Exception as error:  # every failure is a plain page, never exception text
        return refuse(error)
