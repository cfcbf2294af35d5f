"""A refused push, as the service's history keeps it and its channel hears of it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bluegreen.models import ServiceConfig
    from bluegreen.push import EcrImageAction

# The event's values are untrusted: what is kept of them, and of reasons quoting them, is
# bounded (a tag is at most 300 characters, as ECR has it).
_VALUE_CHARS = 300
_REASON_CHARS = 1000


@dataclass(frozen=True)
class Refusal:
    service: str
    environment: str
    key: str  # cluster/service: the history's key
    repository: str
    tag: str | None
    digest: str | None
    reason: str
    at: datetime
    slack_channel: str | None = None  # where the service's Slack messages go, if anywhere
    # Every history the refusal is kept in: each environment of the service's pipeline, as
    # the image reaches none of them (an operator looks at production's, by default).
    histories: tuple[str, ...] = ()

    @classmethod
    def of_push(
        cls,
        service: ServiceConfig,
        push: EcrImageAction,
        reason: str,
        at: datetime,
        pipeline: Sequence[ServiceConfig] = (),
    ) -> Refusal:
        """``service`` refused ``push`` (the environment pushes enter); ``pipeline`` is every
        environment of the service, in order (by default, that one alone)."""
        return cls(
            service=service.name,
            environment=service.environment,
            key=service.lock_key,
            repository=push.repository_name[:_VALUE_CHARS],
            tag=push.image_tag[:_VALUE_CHARS] if push.image_tag else None,
            digest=push.image_digest[:_VALUE_CHARS] if push.image_digest else None,
            reason=reason[:_REASON_CHARS],
            at=at,
            slack_channel=service.slack.channel if service.slack else None,
            histories=tuple(s.lock_key for s in pipeline) or (service.lock_key,),
        )

    @property
    def identity(self) -> str:
        """The same push (service, tag and digest) refused again is the same refusal: a
        redelivered event, or the image pushed again under the same tag."""
        pushed = f"{self.key}\n{self.tag or ''}\n{self.digest or ''}"
        return hashlib.sha256(pushed.encode()).hexdigest()[:32]

    @property
    def pushed(self) -> str:
        """What was pushed, as people name it: ``repository:tag``, else by digest."""
        if self.tag:
            return f"{self.repository}:{self.tag}"
        return f"{self.repository}@{self.digest or '(no digest)'}"

    def summary(self) -> dict[str, Any]:
        """The history entry: the fields a deployment's entry has, where they apply."""
        return {
            "execution_name": None,
            "service": self.service,
            "environment": self.environment,
            "outcome": "refused",
            "reason": self.reason,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "requested_at": self.at.isoformat(),
            "finished_at": self.at.isoformat(),
        }
