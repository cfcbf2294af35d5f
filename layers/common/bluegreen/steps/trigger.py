"""ECR push -> a deployment execution, named so a duplicated event starts nothing new."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from bluegreen.config import ServiceCatalog
from bluegreen.domain.image import execution_name, pin_image
from bluegreen.errors import ImageRefused, ServiceNotConfigured
from bluegreen.models import DeploymentState, ImageRef, ServiceConfig
from bluegreen.push import EcrImageAction, TriggerResult


class Starter(Protocol):
    def start(self, name: str, document: dict[str, object]) -> tuple[str, bool]: ...


def on_push(
    push: EcrImageAction,
    registry_id: str,
    region: str,
    catalog: ServiceCatalog,
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
        image = pin_image(service, push, registry_id, region)
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
    """Start the deployment of ``image``; the same (service, digest) twice is a duplicate."""
    state = DeploymentState(
        execution_name=execution_name(service, image),
        service=service,
        image=image,
        source=source,
        requested_at=now,
    )
    arn, started = executions.start(state.execution_name, state.dump())
    return TriggerResult(
        outcome="started" if started else "duplicate",
        reason=f"{image.repository}:{image.tag} -> {service.name}",
        execution_name=state.execution_name,
        execution_arn=arn,
    )
