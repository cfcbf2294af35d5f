"""Newest wins: which image of a service deploys, and which waits or gives way.

Each service has at most one execution deploying (the lock's owner) and at most one image
waiting (for its approval or for its turn). Images are ordered by ECR's push time of their
digest, never by their tags. An image is admitted only if it is newer than the one
waiting, the one deploying and the one production runs by our record; admitting it
supersedes the one that waited. The store applies these rules atomically; this module names
the images and says what happens, in words fit for the people involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from bluegreen.domain.digest import short_digest

if TYPE_CHECKING:
    from bluegreen.models import DeploymentState


class QueuedImage(BaseModel):
    """An image as the service's queue knows it: enough to order it and to name it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    execution: str
    tag: str
    digest: str
    pushed_at: datetime

    @property
    def pushed_ms(self) -> int:
        return int(self.pushed_at.timestamp() * 1000)

    @property
    def label(self) -> str:
        """``v1.4.1 (9f8e7d6)``: the tag people know, and the digest that identifies it."""
        return f"{self.tag} ({short_digest(self.digest)})"


def queued_image(state: DeploymentState) -> QueuedImage:
    """The execution's image; one pushed before push times were recorded counts as pushed
    when its deployment was requested."""
    image = state.image
    return QueuedImage(
        execution=state.execution_name,
        tag=image.tag,
        digest=image.digest,
        pushed_at=image.pushed_at or state.requested_at,
    )


@dataclass(frozen=True)
class Displaced:
    """The image an admission superseded, and where it waited (its approval, or its turn)."""

    image: QueuedImage
    approval_id: str | None
    token: str | None


@dataclass(frozen=True)
class Released:
    """A released lock: handed to the execution that waited for its turn (woken with its
    token ``wake``), or free."""

    handed_to: str | None
    wake: str | None


@dataclass(frozen=True)
class Queued:
    """TakeTurn's answer: the lock is ours (``behind`` is None), or we wait behind it."""

    behind: QueuedImage | None


@dataclass(frozen=True)
class ServiceQueue:
    """Who deploys the service now, which image waits, and what production runs."""

    owner: str | None
    deploying: QueuedImage | None
    waiting: QueuedImage | None
    running: QueuedImage | None


def after_approval(execution: str, queue: ServiceQueue) -> str:
    """What an approval does now, in words: never "proceeds" for one that will not."""
    if queue.waiting is not None and queue.waiting.execution != execution:
        return f"approved, but superseded by {queue.waiting.label}: it will not be deployed"
    if queue.owner is not None and queue.owner != execution:
        behind = queue.deploying.label if queue.deploying else queue.owner
        return f"approved; it deploys after {behind} finishes"
    return "approved; the deployment starts now"
