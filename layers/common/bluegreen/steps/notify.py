"""Tell people how it ended, and keep the outcome in the service's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bluegreen.domain.messages import outcome_of, outcome_slack, outcome_text
from bluegreen.models import DeploymentState


class Publisher(Protocol):
    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None: ...


class Chat(Protocol):
    def post(self, payload: dict[str, Any]) -> None: ...


class History(Protocol):
    def record_outcome(
        self, key: str, execution: str, at: datetime, summary: dict[str, Any]
    ) -> None: ...


def summary(state: DeploymentState, now: datetime) -> dict[str, Any]:
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
        "requested_at": state.requested_at.isoformat(),
        "finished_at": now.isoformat(),
    }


def notify(
    state: DeploymentState, topic: Publisher, chat: Chat | None, history: History, now: datetime
) -> str:
    history.record_outcome(state.service.lock_key, state.execution_name, now, summary(state, now))
    subject, body = outcome_text(state)
    outcome = outcome_of(state)
    topic.publish(subject, body, {"outcome": outcome, "service": state.service.name})
    if chat is not None:
        chat.post(outcome_slack(state))
    return outcome
