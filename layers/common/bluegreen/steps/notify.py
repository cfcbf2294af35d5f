"""Tell people how it ended, and keep the outcome in the service's history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bluegreen.domain.messages import (
    Email,
    failure_of,
    outcome_of,
    outcome_slack,
    outcome_text,
    withdrawn_email,
)
from bluegreen.domain.rerender import rendered_again_words
from bluegreen.models import DeploymentState

if TYPE_CHECKING:
    from bluegreen.adapters.slack import Posted
    from bluegreen.domain.approval import ApprovalRecord


class Publisher(Protocol):
    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None: ...


class Chat(Protocol):
    def post(
        self, channel: str, message: dict[str, Any], thread_ts: str | None = None
    ) -> Posted: ...
    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None: ...


class Mailer(Protocol):
    def send(self, email: Email) -> str: ...


class History(Protocol):
    def record_outcome(
        self, key: str, execution: str, at: datetime, summary: dict[str, Any]
    ) -> None: ...
    def approval_of(self, execution_name: str) -> ApprovalRecord | None: ...
    def expire(self, approval_id: str, only_pending: bool = False) -> bool: ...


def summary(state: DeploymentState, now: datetime) -> dict[str, Any]:
    """The service's history row. A rollback's says who ran it (``requested_by``, an ARN)
    and what production ran before (``from``)."""
    request = state.rollback_request
    failure = failure_of(state)
    return {
        "execution_name": state.execution_name,
        "service": state.service.name,
        "environment": state.service.environment,
        "outcome": outcome_of(state),
        "source": state.source,
        "requested_by": request.requested_by if request else None,
        "from": {
            "image": request.from_image,
            "tag": request.from_tag,
            "task_definition": request.from_task_definition,
        }
        if request
        else None,
        "image": state.image.pinned,
        "tag": state.image.tag,
        "task_definition": state.render.task_definition if state.render else None,
        "previous_task_definition": (
            state.render.previous_task_definition if state.render else None
        ),
        # Rendered again when its turn came, on the revision the service ran by then.
        "rendered_again": rendered_again_words(state.render) if state.render else None,
        "approved_by": state.approval.approver if state.approval else None,
        "approval_reason": state.approval.reason if state.approval else None,
        "error": state.error.error if state.error else None,
        # Why it did not deploy, as the execution's failure says (who rejected it, and why);
        # "reason" is the same in words, as a refusal's entry says it.
        "cause": failure.cause if failure else None,
        "reason": failure.cause[:1000] if failure else None,
        "digest": state.image.digest,
        "retry_of": state.retry_of,
        "deployment_id": state.deployment.deployment_id if state.deployment else None,
        # Method "rolling": ECS's deployment, not CodeDeploy's (deployment_id stays CodeDeploy's).
        "method": state.service.method,
        "ecs_deployment_id": state.rollout.deployment_id if state.rollout else None,
        "requested_at": state.requested_at.isoformat(),
        "finished_at": now.isoformat(),
    }


@dataclass(frozen=True)
class Notified:
    state: DeploymentState
    outcome: str
    problems: list[str]


def notify(
    state: DeploymentState,
    topic: Publisher,
    chat: Chat | None,
    history: History,
    mailer: Mailer,
    now: datetime,
) -> Notified:
    """Record and announce the outcome. An announcement never changes the outcome: each
    channel that fails is reported back, not raised.

    Approvers hear of a superseded image by email too when they may hold its links (it got
    as far as its approval request): a superseded request needs no decision from them.
    """
    outcome = outcome_of(state)
    subject, body = outcome_text(state)
    failure = failure_of(state)
    # The approval request, if it got that far: closed in the store and in Slack.
    request = history.approval_of(state.execution_name) if state.render is not None else None
    timed_out = failure is not None and failure.error == "ApprovalTimedOut"
    if request is not None and timed_out and history.expire(request.approval_id, True):
        request = request.model_copy(update={"status": "expired"})
    channels: Channels = [
        (
            "history",
            lambda: history.record_outcome(
                state.service.lock_key, state.execution_name, now, summary(state, now)
            ),
        ),
        (
            "sns",
            lambda: topic.publish(
                subject, body, {"outcome": outcome, "service": state.service.name}
            ),
        ),
    ]
    settings = state.service.slack
    if chat is not None and settings is not None:
        channels.append(("slack", lambda: _tell_slack(chat, settings.channel, state, request, now)))
    if outcome == "superseded" and state.render is not None:
        channels.append(("email", lambda: mailer.send(withdrawn_email(state))))
    final = state.model_copy(update={"failure": failure})
    return Notified(final, outcome, deliver(channels))


Channels = list[tuple[str, Callable[[], object]]]


def deliver(channels: Channels) -> list[str]:
    """Send on every channel; the ones that failed, each ``<name>: <error>``, for the caller
    to log. An announcement never changes what it announces, so nothing is raised."""
    problems = []
    for name, send in channels:
        try:
            send()
        except Exception as e:
            problems.append(f"{name}: {type(e).__name__}: {e}"[:300])
    return problems


def _tell_slack(
    chat: Chat,
    channel: str,
    state: DeploymentState,
    request: ApprovalRecord | None,
    now: datetime,
) -> None:
    """The outcome as a reply in the request's thread (a message of its own without one).

    A request that ended undecided (superseded, expired) shows it on its own message too.
    """
    from bluegreen.domain.slack_messages import closed_message

    if request is None or not request.slack_channel or not request.slack_ts:
        chat.post(channel, outcome_slack(state))
        return
    if request.status in ("superseded", "expired"):
        chat.update(
            request.slack_channel,
            request.slack_ts,
            closed_message(request, now, request.details_link),
        )
    chat.post(request.slack_channel, outcome_slack(state), thread_ts=request.slack_ts)
