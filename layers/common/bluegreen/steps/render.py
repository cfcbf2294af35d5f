"""Render: a new task definition revision with the pushed image, pinned by digest."""

from __future__ import annotations

from typing import Any, Protocol

from bluegreen.changes import FieldChange
from bluegreen.domain import taskdef
from bluegreen.domain.image import check_tag
from bluegreen.models import DeploymentState, RenderResult


class TaskDefinitions(Protocol):
    def current(self, cluster: str, service: str) -> dict[str, Any]: ...
    def register(self, definition: dict[str, Any]) -> str: ...


def render(state: DeploymentState, task_definitions: TaskDefinitions) -> DeploymentState:
    # Executions can also be started by hand: the trigger's refusal is checked again here,
    # before anything is registered.
    check_tag(state.service, state.image.tag)
    service = state.service
    current = task_definitions.current(service.cluster, service.service)
    # The tag production runs: a revision we registered says which (approvers see it).
    previous_tag = next(
        (t["value"] for t in current.get("tags", []) if t["key"] == "bluegreen:image-tag"), None
    )
    definition, changes = planned(state, current)
    arn = task_definitions.register(definition)
    result = RenderResult(
        previous_task_definition=str(current["taskDefinitionArn"]),
        task_definition=arn,
        previous_image=taskdef.container_image(current, service.container),
        changes=changes,
        previous_tag=previous_tag[:128] if previous_tag else None,
    )
    return state.model_copy(update={"render": result})


def planned(
    state: DeploymentState, current: dict[str, Any]
) -> tuple[dict[str, Any], list[FieldChange]]:
    """The revision ``state``'s deployment registers over ``current`` (RegisterTaskDefinition's
    arguments, tagged with the execution and the image's tag), and its image change."""
    tags = [t for t in current.get("tags", []) if not t["key"].startswith("bluegreen:")] + [
        {"key": "bluegreen:execution", "value": state.execution_name},
        {"key": "bluegreen:image-tag", "value": state.image.tag},
    ]
    return taskdef.render(current, state.service.container, state.image.pinned, tags)
