"""A new task definition revision that differs from the running one only by its image."""

from __future__ import annotations

from typing import Any

from bluegreen.changes import FieldChange
from bluegreen.errors import ResourceMissing

# What RegisterTaskDefinition accepts back from DescribeTaskDefinition's output; the rest
# (revision, status, ARNs, registeredAt, ...) is assigned by ECS.
REGISTRABLE_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
)


def render(
    current: dict[str, Any], container: str, image: str, tags: list[dict[str, str]] | None = None
) -> tuple[dict[str, Any], list[FieldChange]]:
    """RegisterTaskDefinition arguments for ``image`` in ``container``, and what changed."""
    definition = {k: current[k] for k in REGISTRABLE_FIELDS if current.get(k) not in (None, [], {})}
    containers = [dict(c) for c in definition.get("containerDefinitions", [])]
    target = next((c for c in containers if c.get("name") == container), None)
    if target is None:
        names = ", ".join(c.get("name", "?") for c in containers) or "none"
        raise ResourceMissing(
            f"task definition {current.get('family')} has no container {container!r} (has: {names})"
        )
    changes = [
        FieldChange(
            path=f"containerDefinitions[{container}].image",
            before=target.get("image"),
            after=image,
        )
    ]
    target["image"] = image
    definition["containerDefinitions"] = containers
    if tags:
        definition["tags"] = tags
    return definition, [c for c in changes if c.before != c.after]


def container_image(task_definition: dict[str, Any], container: str) -> str | None:
    for c in task_definition.get("containerDefinitions", []):
        if c.get("name") == container:
            image = c.get("image")
            return str(image) if image is not None else None
    return None
