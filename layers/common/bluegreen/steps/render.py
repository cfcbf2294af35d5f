"""Render: a new task definition revision with the pushed image, pinned by digest.

From the live revision (its ``container``'s image replaced), or from the service's template
(:mod:`bluegreen.domain.template`): the pushed repository's placeholders pinned to the pushed
digest, every other to the digest the environment runs. Either way, what approvers see is
what the revision changes from the one the environment runs.

Rendered again once the execution's turn came, when the service runs another revision by then
(:mod:`bluegreen.domain.rerender`): the same image on the live revision, the render saying so.
"""

from __future__ import annotations

from typing import Any, Protocol

from bluegreen.changes import FieldChange
from bluegreen.domain import taskdef, template
from bluegreen.domain.image import check_tag
from bluegreen.errors import ImageRefused
from bluegreen.models import DeploymentState, RenderedAgain, RenderResult


class TaskDefinitions(Protocol):
    def current(self, cluster: str, service: str) -> dict[str, Any]: ...
    def register(self, definition: dict[str, Any]) -> str: ...


def render(state: DeploymentState, task_definitions: TaskDefinitions) -> DeploymentState:
    # Executions can also be started by hand: the trigger's refusals are checked again
    # here, before anything is registered.
    check_tag(state.service, state.image.tag)
    service = state.service
    if state.image.repository not in service.repositories:
        raise ImageRefused(
            f"repository {state.image.repository!r} does not deploy {service.name!r} "
            f"(its repositories: {', '.join(service.repositories)})"
        )
    current = task_definitions.current(service.cluster, service.service)
    # The tag production runs: a revision we registered says which (approvers see it).
    previous_tag = _tag(current, "bluegreen:image-tag")
    definition, changes = planned(state, current)
    arn = task_definitions.register(definition)
    result = RenderResult(
        previous_task_definition=str(current["taskDefinitionArn"]),
        task_definition=arn,
        previous_image=_previous_image(state, current),
        changes=changes,
        previous_tag=previous_tag[:128] if previous_tag else None,
        rendered_again=_again(state.render, current),
    )
    return state.model_copy(update={"render": result})


def _again(before: RenderResult | None, current: dict[str, Any]) -> RenderedAgain | None:
    """A render made again on the revision the service runs by the execution's turn: which
    revision was rendered first (and approved), and whose deployment went in between."""
    if before is None:
        return None
    first = before.rendered_again.first_task_definition if before.rendered_again else None
    by = _tag(current, "bluegreen:execution")
    return RenderedAgain(
        first_task_definition=first or before.task_definition,
        registered_by=by[:80] if by else None,
    )


def _tag(definition: dict[str, Any], key: str) -> str | None:
    return next((str(t["value"]) for t in definition.get("tags", []) if t["key"] == key), None)


def planned(
    state: DeploymentState, current: dict[str, Any]
) -> tuple[dict[str, Any], list[FieldChange]]:
    """The revision ``state``'s deployment registers over ``current`` (RegisterTaskDefinition's
    arguments, tagged with the execution and the image's tag), and what it changes."""
    service = state.service
    kept = current.get("tags", [])
    if service.task_definition is not None:
        pins = template.pins(service, state.image, current)
        definition = template.fill(service.task_definition, pins)
        kept = definition.pop("tags", kept)  # the template's own tags, else the revision's
    else:
        definition, _ = taskdef.render(current, service.container, state.image.pinned)
    definition["tags"] = [t for t in kept if not t["key"].startswith("bluegreen:")] + [
        {"key": "bluegreen:execution", "value": state.execution_name},
        {"key": "bluegreen:image-tag", "value": state.image.tag},
    ]
    return definition, taskdef.changes(current, definition)


def _previous_image(state: DeploymentState, current: dict[str, Any]) -> str | None:
    """What the environment runs of the pushed image's repository (its ``container``'s image
    when it renders from the live revision)."""
    service = state.service
    if service.task_definition is None:
        return taskdef.container_image(current, service.container)
    wanted = [
        str(c.get("name"))
        for c in template.containers(service.task_definition)
        if template.placeholder_of(c.get("image")) in _placeholders(state)
    ]
    return template.running_image(current, state.image.repository_uri, wanted)


def _placeholders(state: DeploymentState) -> set[str]:
    return {p for p, r in state.service.images.items() if r == state.image.repository}
