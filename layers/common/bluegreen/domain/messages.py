"""What people read: approval requests and outcomes, as email text and Slack Block Kit."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bluegreen.domain.rerender import rendered_again_words
from bluegreen.domain.slack_messages import escape

if TYPE_CHECKING:
    from datetime import datetime

    # each function that uses these texts builds only the models it reads
    from bluegreen.domain.approval import ApprovalRecord
    from bluegreen.domain.refusal import Refusal
    from bluegreen.models import DeploymentState, Failure

Outcome = Literal["succeeded", "rolled_back", "not_deployed", "superseded", "needs_attention"]


@dataclass(frozen=True)
class Email:
    to: list[str]
    subject: str
    text: str
    html: str | None = None  # sent as multipart/alternative with the text


def approval_email(record: ApprovalRecord, recipient: str, link: str, now: datetime) -> Email:
    """The request as people expect mail: HTML with a button, and the same as plain text."""
    from bluegreen.domain.approval import in_words
    from bluegreen.rendering import render

    values = {
        "r": record,
        "recipient": recipient,
        "link": link,
        "now": now,
        "expires_in": in_words(record.expires_at - now),
    }
    subject = f"[bluegreen] Approve {record.service} {record.image_tag} to {record.environment}?"
    return Email(
        to=[recipient],
        subject=subject,
        text=render("approval_email.txt", **values),
        html=render("approval_email.html", **values),
    )


def outcome_of(state: DeploymentState) -> Outcome:
    if state.cleanup_error is not None or state.promotion_error is not None:
        return "needs_attention"
    if state.deployment is not None and state.deployment.succeeded:
        # CodeDeploy says so, whatever failed of ours on the way (a poll, a Lambda).
        return "succeeded"
    if state.rollout is not None and state.rollout.completed:
        return "succeeded"  # ECS's rolling deployment COMPLETED: as above
    if state.rollback is not None and state.rollback.release_live:
        return "needs_attention"  # live, not rolled back, its end not seen
    if state.error is None:
        return "succeeded"
    if state.scaling is not None:
        return "rolled_back"
    if state.rollout is not None and state.rollout.deployment_id is not None:
        return "rolled_back"  # the service was rolled out, then back
    return "superseded" if state.error.error == "Superseded" else "not_deployed"


_HEADLINES: dict[Outcome, str] = {
    "succeeded": "deployed",
    "rolled_back": "rolled back",
    "not_deployed": "not deployed",
    "superseded": "superseded",
    "needs_attention": "NEEDS ATTENTION",
}


def failure_of(state: DeploymentState) -> Failure | None:
    """The error name and cause the execution ends with; None when it succeeded.

    ``States.*`` names are reserved for Step Functions' own Fail reasons, so ours read:
    an approval nobody decided in time is ``ApprovalTimedOut``, not ``States.Timeout``.
    """
    from bluegreen.models import Failure  # Notify's: the approval API never builds it

    if outcome_of(state) == "succeeded":
        return None
    if state.promotion_error is not None and state.cleanup_error is None:
        from bluegreen.domain.promotion import failed_words

        promoting = state.promotion_error
        cause = f"{promoting.error}: {_readable_cause(promoting.cause) or 'no cause was given'}"
        return Failure(error="PromotionFailed", cause=failed_words(state, cause))
    rollback = state.rollback
    if rollback is not None and rollback.release_live and state.cleanup_error is None:
        error = state.error
        watching = (
            f"; watching it failed: {error.error}: {_readable_cause(error.cause)}" if error else ""
        )
        return Failure(error="ReleaseLiveUnconfirmed", cause=f"{rollback.detail}{watching}")
    error = state.cleanup_error or state.error
    if error is None:
        return Failure(error="Failed", cause="no error was recorded")
    name = error.error
    if name == "States.Timeout" and state.approval is None:
        name = "ApprovalTimedOut"
    name = name.removeprefix("States.") or "Failed"
    return Failure(error=name, cause=_readable_cause(error.cause) or _DEFAULT_CAUSES[name])


_DEFAULT_CAUSES: defaultdict[str, str] = defaultdict(
    lambda: "no cause was given",
    ApprovalTimedOut="nobody approved or rejected before the approval timed out",
)


def _readable_cause(cause: str | None) -> str:
    """A Lambda error's cause is a JSON document; people want its message."""
    if not cause:
        return ""
    try:
        document = json.loads(cause)
    except ValueError:
        return cause[:2000]
    if isinstance(document, dict) and "errorMessage" in document:
        return str(document["errorMessage"])[:2000]
    return cause[:2000]


def outcome_text(state: DeploymentState) -> tuple[str, str]:
    """A subject line and a body for the deployment's outcome."""
    outcome = outcome_of(state)
    rollback = "rollback to " if state.rollback_request else ""
    subject = (
        f"[bluegreen] {state.service.name} {rollback}{state.image.tag} {_HEADLINES[outcome]} "
        f"({state.service.environment})"
    )
    lines = [
        f"Service: {state.service.cluster}/{state.service.service}",
        f"Image: {state.image.pinned}",
        f"Execution: {state.execution_name}",
    ]
    if state.render:
        lines.append(f"Task definition: {state.render.task_definition}")
        if again := rendered_again_words(state.render):
            lines.append(f"Rendered again: {again}")
    if state.service.method == "rolling":
        lines.append(f"Deployed by: ECS rolling update{_rollout_words(state)}")
    if state.approval:
        reason = f" ({state.approval.reason})" if state.approval.reason else ""
        lines.append(f"Approved by: {state.approval.approver}{reason}")
    if request := state.rollback_request:
        lines.append(f"Rollback by: {request.requested_by}")
        lines.append(f"Rolled back from: {request.from_image or '(unknown)'}")
    failure = failure_of(state)
    if failure:
        lines.append(f"Reason: {failure.error}: {failure.cause}")
    if state.rollback:
        lines.append(f"Rollback: {state.rollback.detail}")
    if state.rollout and state.rollout.rollback:
        lines.append(f"Rollback: {state.rollout.rollback.detail}")
    return subject, "\n".join(lines)


def _rollout_words(state: DeploymentState) -> str:
    """`` (ECS deployment ecs-svc/1 COMPLETED, 2 of 2 tasks running)``, once there is one."""
    rollout = state.rollout
    if rollout is None or rollout.deployment_id is None:
        return ""
    failed = f", {rollout.failed_tasks} failed to start" if rollout.failed_tasks else ""
    return (
        f" (ECS deployment {rollout.deployment_id} {rollout.rollout_state}, "
        f"{rollout.running_count} of {rollout.desired_count} tasks running{failed})"
    )


def withdrawn_email(state: DeploymentState) -> Email:
    """To the approvers of a request that a newer image superseded: no decision is needed."""
    subject, body = outcome_text(state)
    text = (
        f"The approval request for {state.service.name} {state.image.tag} is withdrawn: "
        "a newer image replaced it, and its links accept no decision.\n\n" + body + "\n"
    )
    return Email(to=list(state.service.approvers), subject=subject, text=text)


def _slack_notice(icon: str, subject: str, body: str) -> dict[str, Any]:
    """A subject and a preformatted body as Block Kit, every value escaped."""
    quoted = escape(body).replace("```", "\u02cb\u02cb\u02cb")
    return {
        "text": escape(subject),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{escape(subject)}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{quoted}```"}},
        ],
    }


def outcome_slack(state: DeploymentState) -> dict[str, Any]:
    subject, body = outcome_text(state)
    icon = {
        "succeeded": ":white_check_mark:",
        "rolled_back": ":rewind:",
        "superseded": ":fast_forward:",
    }.get(outcome_of(state), ":no_entry:")
    return _slack_notice(icon, subject, body)


def refusal_text(refusal: Refusal) -> tuple[str, str]:
    """A subject line and a body for a refused push: whoever pushed learns why nothing ran."""
    subject = (
        f"[bluegreen] {refusal.service} push refused: {refusal.pushed} ({refusal.environment})"
    )
    lines = [
        f"Nothing was deployed: the push of {refusal.pushed} was refused.",
        f"Reason: {refusal.reason}",
        f"Service: {refusal.service} ({refusal.key}, {refusal.environment})",
        f"Digest: {refusal.digest or '(none)'}",
        f"Refused at: {refusal.at:%Y-%m-%d %H:%M:%S} UTC",
    ]
    return subject, "\n".join(lines)


def refusal_slack(refusal: Refusal) -> dict[str, Any]:
    subject, body = refusal_text(refusal)
    return _slack_notice(":no_entry_sign:", subject, body)
