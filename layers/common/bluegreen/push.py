"""The trigger's boundary: an ECR push as EventBridge delivers it, and what the trigger did.

Apart from the state machine's document (:mod:`bluegreen.models`): only the trigger (and
the operators' CLI, which starts a deployment the same way) builds these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bluegreen.models import Model


class EcrImageAction(BaseModel):
    """``detail`` of an EventBridge "ECR Image Action" event."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    action_type: str = Field(alias="action-type")
    result: str
    repository_name: str = Field(alias="repository-name")
    image_digest: str | None = Field(default=None, alias="image-digest")
    image_tag: str | None = Field(default=None, alias="image-tag")


class EcrPushEvent(BaseModel):
    """The EventBridge event around it: every top-level field EventBridge always sends.

    An event that lacks one is not an EventBridge event, and is refused.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: EcrImageAction


Outcome = Literal["started", "duplicate", "ignored", "refused"]


class TriggerResult(Model):
    """What a push (or a deployment started by hand) did to one service; for a repository
    that feeds several services, one answer each (``per_service``) and their sum."""

    outcome: Outcome
    reason: str
    execution_name: str | None = None
    execution_arn: str | None = None
    # A refusal: told to the service's history and channel now (False: told before).
    announced: bool = False
    # Channels a refusal could not be told to (each failure, never raised).
    problems: list[str] = Field(default_factory=list)
    service: str | None = None  # the service it concerns; none: no service, or several
    per_service: list[TriggerResult] = Field(default_factory=list)

    @classmethod
    def of_services(cls, answers: list[TriggerResult]) -> TriggerResult:
        """One service's answer as it is; several summed up: started if any started (else
        a duplicate if any was, else refused), each service's reason, every problem."""
        if len(answers) == 1:
            return answers[0]
        outcomes = {answer.outcome for answer in answers}
        outcome = next(o for o in _PRECEDENCE if o in outcomes)
        return cls(
            outcome=outcome,
            reason="; ".join(f"{a.service}: {a.outcome}, {a.reason}" for a in answers),
            announced=any(a.announced for a in answers),
            problems=[p for a in answers for p in a.problems],
            per_service=answers,
        )


_PRECEDENCE: tuple[Outcome, ...] = ("started", "duplicate", "refused", "ignored")
