"""Approval API (HTTP API): GET shows the request, POST records the decision.

A GET never changes anything (mail scanners and link unfurlers follow links); the POST must
carry the one-time nonce from the page. Errors become plain pages: never exception text.
"""

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from bluegreen import pages, wiring
from bluegreen.domain.approval import LinkParams
from bluegreen.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalLinkInvalid,
    ApprovalNotFound,
)
from bluegreen.handler import now
from bluegreen.observability import logger, metrics
from bluegreen.settings import ApprovalApiSettings, load
from bluegreen.steps import approval
from pydantic import ValidationError

app = APIGatewayHttpResolver()

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


def _page(status: int, body: str) -> Response[str]:
    return Response(status_code=status, headers=dict(pages.HEADERS), body=body)


def _link_params() -> LinkParams:
    return LinkParams.model_validate(app.current_event.query_string_parameters or {})


def _key() -> bytes:
    return wiring.signing_key(load(ApprovalApiSettings).SIGNING_SECRET_ARN)


@app.get("/approvals/<approval_id>")
def show(approval_id: str) -> Response[str]:
    review = approval.review(approval_id, _link_params(), wiring.state_table(), _key(), now())
    action = f"{app.current_event.raw_path}?{app.current_event.raw_query_string}"
    return _page(200, pages.review_page(review, action))


@app.post("/approvals/<approval_id>")
def decide(approval_id: str) -> Response[str]:
    form = {k: v[0] for k, v in parse_qs(app.current_event.decoded_body or "").items()}
    decision = form.get("decision")
    if decision not in ("approve", "reject") or not form.get("nonce"):
        return _page(400, pages.message_page("Bad request", "Choose approve or reject."))
    record = approval.decide(
        approval_id,
        _link_params(),
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
    verb = "approved: the deployment proceeds" if record.status == "approved" else "rejected"
    return _page(
        200,
        pages.message_page(
            f"Deployment {record.status}", f"{record.service} {record.image_tag} {verb}."
        ),
    )


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def refuse(error: Exception) -> Response[str]:
    for kind, (status, heading, text) in _REFUSALS.items():
        if isinstance(error, kind):
            logger.info("approval refused", reason=type(error).__name__)
            return _page(status, pages.message_page(heading, text))
    logger.exception("approval API failure")
    return _page(500, pages.message_page("Something went wrong", "Nothing was changed."))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
