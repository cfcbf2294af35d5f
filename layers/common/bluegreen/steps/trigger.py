"""ECR push -> a deployment execution, named so a duplicated event starts nothing new.

Nothing in the event is trusted: the digest must be an image of the service's repository,
carrying the pushed tag, as ECR itself answers; ECR's push time comes with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from bluegreen.config import ServiceCatalog
from bluegreen.domain.image import RegistryImage, confirmed, execution_name, pin_image
from bluegreen.errors import ImageRefused, ServiceNotConfigured
from bluegreen.models import DeploymentState, ImageRef, ServiceConfig
from bluegreen.push import EcrImageAction, TriggerResult


class Starter(Protocol):
    def start(self, name: str, document: dict[str, object]) -> tuple[str, bool]: ...


class Registry(Protocol):
    def by_digest(self, registry_id: str, repository: str, digest: str) -> RegistryImage | None: ...


def on_push(
    push: EcrImageAction,
    registry_id: str,
    region: str,
    catalog: ServiceCatalog,
    registry: Registry,
    executions: Starter,
    now: datetime,
) -> TriggerResult:
    if push.action_type != "PUSH" or push.result != "SUCCESS":
        return TriggerResult(outcome="ignored", reason=f"{push.action_type} {push.result}")
    try:
        service = catalog.for_repository(push.repository_name)
    except ServiceNotConfigured as e:
        return TriggerResult(outcome="ignored", reason=str(e))
    try:
        claimed = pin_image(service, push, registry_id, region)
        image = confirmed(
            claimed, registry.by_digest(claimed.registry_id, claimed.repository, claimed.digest)
        )
    except ImageRefused as e:
        return TriggerResult(outcome="refused", reason=str(e))
    return start(service, image, "ecr-push", executions, now)


def start(
    service: ServiceConfig,
    image: ImageRef,
    source: Literal["ecr-push", "cli"],
    executions: Starter,
    now: datetime,
) -> TriggerResult:
    """Start the deployment of ``image``; the same (service, digest) twice is a duplicate,
    whichever tag it came with: the answer names the execution that already has it."""
    state = DeploymentState(
        execution_name=execution_name(service, image),
        service=service,
        image=image,
        source=source,
        requested_at=now,
    )
    arn, started = executions.start(state.execution_name, state.dump())
    pushed = f"{image.repository}:{image.tag}"
    return TriggerResult(
        outcome="started" if started else "duplicate",
        reason=f"{pushed} -> {service.name}"
        if started
        else f"{pushed} is the image of {state.execution_name}, started before: nothing new",
        execution_name=state.execution_name,
        execution_arn=arn,
    )
