"""ECR push -> a deployment execution, named so a duplicated event starts nothing new.

Nothing in the event is trusted: the digest must be an image of the service's repository,
carrying the pushed tag, as ECR itself answers; ECR's push time comes with it. A push the
service may not deploy is refused, and the refusal recorded in the history of each of the
service's environments (the image reaches none of them) and told to its channel, once per
pushed image and tag; a push to a repository no service deploys is only logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bluegreen.config import ServiceCatalog
from bluegreen.domain.image import (
    RegistryImage,
    confirmed,
    execution_name,
    pin_image,
    retry_name,
    rollback_name,
)
from bluegreen.domain.messages import refusal_slack, refusal_text
from bluegreen.domain.refusal import Refusal
from bluegreen.errors import ImageRefused, ServiceNotConfigured
from bluegreen.models import (
    DeploymentState,
    ImageRef,
    Provenance,
    RollbackRequest,
    ServiceConfig,
)
from bluegreen.push import EcrImageAction, TriggerResult

if TYPE_CHECKING:
    from bluegreen.steps.notify import Channels, Chat, Publisher

log = logging.getLogger(__name__)


class Starter(Protocol):
    def start(self, name: str, document: dict[str, object]) -> tuple[str, bool]: ...


class Registry(Protocol):
    def by_digest(self, registry_id: str, repository: str, digest: str) -> RegistryImage | None: ...
    def provenance(self, registry_id: str, repository: str, digest: str) -> Provenance | None: ...


class RefusalLog(Protocol):
    def first_refusal(self, key: str, refusal: str, at: datetime) -> bool: ...

    def record_outcome(
        self, key: str, execution: str, at: datetime, summary: dict[str, Any]
    ) -> None: ...


@dataclass(frozen=True)
class Channel:
    """Where a refusal goes: the service's history, the topic, and Slack when configured."""

    history: RefusalLog
    topic: Publisher
    chat: Chat | None


def on_push(
    push: EcrImageAction,
    registry_id: str,
    region: str,
    catalog: ServiceCatalog,
    registry: Registry,
    executions: Starter,
    channel: Callable[[], Channel],
    now: datetime,
) -> TriggerResult:
    """What to make of one push: a deployment of each service the repository feeds (in its
    first environment), or its refusal, service by service. ``channel`` is built only for
    a refusal: a push that starts deployments needs no table, topic or Slack."""
    if push.action_type != "PUSH" or push.result != "SUCCESS":
        return TriggerResult(outcome="ignored", reason=f"{push.action_type} {push.result}")
    try:
        services = catalog.fed_by(push.repository_name)
    except ServiceNotConfigured as e:
        return TriggerResult(outcome="ignored", reason=str(e))
    asked_once = _Remembered(registry)  # one push, one image: ECR is asked once
    told = cache(channel)
    answers = [
        _deploy(
            service,
            catalog.pipeline(service.name),
            push,
            registry_id,
            region,
            asked_once,
            executions,
            told,
            now,
        )
        for service in services
    ]
    return TriggerResult.of_services(answers)


def _deploy(
    service: ServiceConfig,
    pipeline: list[ServiceConfig],
    push: EcrImageAction,
    registry_id: str,
    region: str,
    registry: Registry,
    executions: Starter,
    channel: Callable[[], Channel],
    now: datetime,
) -> TriggerResult:
    try:
        claimed = pin_image(service, push, registry_id, region)
        image = confirmed(
            claimed, registry.by_digest(claimed.registry_id, claimed.repository, claimed.digest)
        )
    except ImageRefused as e:
        return refuse(Refusal.of_push(service, push, str(e), now, pipeline), channel())
    try:  # what the approvers see of the commit; a deployment does not depend on it
        origin = registry.provenance(image.registry_id, image.repository, image.digest)
    except Exception:
        log.warning("the image's annotations could not be read", exc_info=True)
        origin = None
    return start(service, image, "ecr-push", executions, now, provenance=origin)


class _Remembered:
    """A registry that answers each question once (a push that feeds several services)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._images: dict[tuple[str, str, str], RegistryImage | None] = {}
        self._origins: dict[tuple[str, str, str], Provenance | None] = {}

    def by_digest(self, registry_id: str, repository: str, digest: str) -> RegistryImage | None:
        key = (registry_id, repository, digest)
        if key not in self._images:
            self._images[key] = self._registry.by_digest(*key)
        return self._images[key]

    def provenance(self, registry_id: str, repository: str, digest: str) -> Provenance | None:
        key = (registry_id, repository, digest)
        if key not in self._origins:
            self._origins[key] = self._registry.provenance(*key)
        return self._origins[key]


def refuse(refusal: Refusal, channel: Channel) -> TriggerResult:
    """Record and announce ``refusal`` unless it was before. As for a deployment's outcome,
    a channel that fails is reported back, not raised: the push stays refused."""
    from bluegreen.steps.notify import deliver  # the refusal path only: pushes that deploy skip it

    if not channel.history.first_refusal(refusal.key, refusal.identity, refusal.at):
        return TriggerResult(outcome="refused", reason=refusal.reason, service=refusal.service)
    subject, body = refusal_text(refusal)
    attributes = {"outcome": "refused", "service": refusal.service}
    sends: Channels = [
        (
            "history" if len(refusal.histories) == 1 else f"history of {key}",
            partial(
                channel.history.record_outcome,
                key,
                f"refused-{refusal.identity[:12]}",
                refusal.at,
                refusal.summary(),
            ),
        )
        for key in refusal.histories
    ]
    sends.append(("sns", lambda: channel.topic.publish(subject, body, attributes)))
    if channel.chat is not None and refusal.slack_channel:
        chat, where = channel.chat, refusal.slack_channel
        sends.append(("slack", lambda: chat.post(where, refusal_slack(refusal))))
    return TriggerResult(
        outcome="refused",
        reason=refusal.reason,
        announced=True,
        problems=deliver(sends),
        service=refusal.service,
    )


def start(
    service: ServiceConfig,
    image: ImageRef,
    source: Literal["ecr-push", "cli", "rollback", "promotion"],
    executions: Starter,
    now: datetime,
    retry_of: str | None = None,
    attempt: int = 2,
    rollback: RollbackRequest | None = None,
    provenance: Provenance | None = None,
    promoted_from: str | None = None,
    pushed_by: str | None = None,
) -> TriggerResult:
    """Start the deployment of ``image``; the same (service, digest) twice is a duplicate,
    whichever tag it came with: the answer names the execution that already has it.

    An explicit retry names the execution it retries (``retry_of``) and is named after it
    (``<first execution>-retry<attempt>``): the image's own name is taken for 90 days. An
    operator's rollback (source ``rollback``, saying who and from what) is named
    ``<service>-<short digest>-rollback<attempt>``. A promotion (source ``promotion``)
    names the environment the image succeeded in before (``promoted_from``).
    """
    if retry_of is not None:
        name = retry_name(retry_of, attempt)
    elif source == "rollback":
        name = rollback_name(service, image, attempt)
    else:
        name = execution_name(service, image)
    state = DeploymentState(
        execution_name=name,
        service=service,
        image=image,
        source=source,
        requested_at=now,
        retry_of=retry_of,
        rollback_request=rollback,
        provenance=provenance,
        promoted_from=promoted_from,
        pushed_by=pushed_by,
    )
    arn, started = executions.start(state.execution_name, state.dump())
    pushed = f"{image.repository}:{image.tag}"
    retrying = f" (retry of {retry_of})" if retry_of else ""
    if rollback is not None:
        retrying = f" (rollback from {rollback.from_tag or rollback.from_image or 'unknown'})"
    if promoted_from is not None:
        retrying = f" (promoted from {promoted_from})"
    return TriggerResult(
        outcome="started" if started else "duplicate",
        reason=f"{pushed} -> {_target(service)}{retrying}"
        if started
        else f"{pushed} is the image of {state.execution_name}, started before: nothing new",
        execution_name=state.execution_name,
        execution_arn=arn,
        service=service.name,
    )


def _target(service: ServiceConfig) -> str:
    """The service, and its environment when it has several."""
    return f"{service.name} ({service.environment})" if len(service.pipeline) > 1 else service.name
