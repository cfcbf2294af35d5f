"""Tell people how it ended, and keep the outcome in the service's history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bluegreen.domain.messages import (
    Email,
    failure_of,
    outcome_of,
    outcome_slack,
    outcome_text,
    withdrawn_email,
)
from bluegreen.models import DeploymentState


class Publisher(Protocol):
    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None: ...


class Chat(Protocol):
    def post(self, payload: dict[str, Any]) -> None: ...


class Mailer(Protocol):
    def send(self, email: Email) -> str: ...


class History(Protocol):
    def record_outcome(
        self, key: str, execution: str, at: datetime, summary: dict[str, Any]
    ) -> None: ...


def summary(state: DeploymentState, now: datetime) -> dict[str, Any]:
    failure = failure_of(state)
    return {
        "execution_name": state.execution_name,
        "service": state.service.name,
        "environment": state.service.environment,
        "outcome": outcome_of(state),
        "image": state.image.pinned,
        "tag": state.image.tag,
        "task_definition": state.render.task_definition if state.render else None,
        "previous_task_definition": (
            state.render.previous_task_definition if state.render else None
        ),
        "approved_by": state.approval.approver if state.approval else None,
        "error": state.error.error if state.error else None,
        # Why it did not deploy, in words (a refusal's entry says it as "reason" too).
        "reason": failure.cause[:1000] if failure else None,
        "digest": state.image.digest,
        "retry_of": state.retry_of,
        "deployment_id": state.deployment.deployment_id if state.deployment else None,
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
    channels: list[tuple[str, Callable[[], object]]] = [
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
    if chat is not None:
        channels.append(("slack", lambda: chat.post(outcome_slack(state))))
    if outcome == "superseded" and state.render is not None:
        channels.append(("email", lambda: mailer.send(withdrawn_email(state))))
    problems = []
    for name, send in channels:
        try:
            send()
        except Exception as e:  # reported to the caller, who logs it
            problems.append(f"{name}: {type(e).__name__}: {e}"[:300])
    final = state.model_copy(update={"failure": failure_of(state)})
    return Notified(final, outcome, problems)
