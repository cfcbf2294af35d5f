"""Task definition revisions: the live one with a new image, and what a revision changes.

Rendering from the live revision replaces one container's image and keeps everything
else. Whatever a revision was rendered from, what it changes is found field by field
against the revision the environment runs (:func:`changes`): that is what approvers see.
"""

from __future__ import annotations

import json
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


def registrable(described: dict[str, Any]) -> dict[str, Any]:
    """A described revision as RegisterTaskDefinition would take it back, with its tags."""
    kept = {k: described[k] for k in REGISTRABLE_FIELDS if described.get(k) not in (None, [], {})}
    if described.get("tags"):
        kept["tags"] = described["tags"]
    return kept


def leaves(document: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of ``document`` by its path; list items by their name (or key) when they
    all have one (``containerDefinitions[web].image``, ``tags[team]``), else by position."""
    if isinstance(document, dict):
        found: dict[str, Any] = {}
        for key in sorted(document):
            found |= leaves(document[key], f"{path}.{key}" if path else str(key))
        return found
    if isinstance(document, list):
        found = {}
        by = _identity(document)
        for index, item in enumerate(document):
            if by == "key":  # tags: {key, value}
                found[f"{path}[{item['key']}]"] = item.get("value")
            elif by == "name":
                rest = {k: v for k, v in item.items() if k != "name"}
                found |= leaves(rest, f"{path}[{item['name']}]")
            else:
                found |= leaves(item, f"{path}[{index}]")
        return found or {path: []}
    return {path: document}


def _identity(items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if all(set(i) <= {"key", "value"} and "key" in i for i in items):
        return "key"
    names = [i.get("name") for i in items]
    if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return "name"
    return None


# What ECS fills in when it registers a revision that leaves them out: a container is
# essential, has no cpu units reserved, maps ports over TCP; a task's network mode is bridge.
_CONTAINER_DEFAULTS: dict[str, object] = {"essential": True, "cpu": 0}
_PORT_DEFAULTS: dict[str, object] = {"protocol": "tcp", "hostPort": 0}


def comparable(definition: dict[str, Any]) -> dict[str, Any]:
    """``definition`` without what ECS takes as said when it is left out (empty lists and
    tables, its defaults): a template that leaves them out does not change them."""
    document: dict[str, Any] = _without_empty(definition)
    if document.get("networkMode") == "bridge":
        del document["networkMode"]
    awsvpc = document.get("networkMode") == "awsvpc"
    for container in document.get("containerDefinitions", []):
        _drop_defaults(container, _CONTAINER_DEFAULTS)
        for mapping in container.get("portMappings", []):
            _drop_defaults(mapping, _PORT_DEFAULTS)
            if awsvpc and mapping.get("hostPort") == mapping.get("containerPort"):
                mapping.pop("hostPort", None)  # awsvpc: the host port is the container's
    return document


def _drop_defaults(item: dict[str, Any], defaults: dict[str, object]) -> None:
    for key, default in defaults.items():
        if key in item and item[key] == default and type(item[key]) is type(default):
            del item[key]


def _without_empty(document: Any) -> Any:
    if isinstance(document, dict):
        kept = {k: _without_empty(v) for k, v in document.items()}
        return {k: v for k, v in kept.items() if v not in (None, [], {})}
    if isinstance(document, list):
        return [_without_empty(v) for v in document]
    return document


# What Render keeps of the changes, as compact JSON (non-ASCII escaped): they travel in
# the execution's document and in the approval's record (``bluegreen diff`` lists them all).
CHANGES_MAX_BYTES = 12_288
VALUE_MAX_CHARS = 512
_OURS = "tags[bluegreen:"  # our own marks on a revision: not a change anyone reviews
_ABSENT = object()


def changes(described: dict[str, Any], rendered: dict[str, Any]) -> list[FieldChange]:
    """What registering ``rendered`` changes from ``described`` (the revision the service
    runs), field by field: containers' images first, then the rest by path; our own marks
    left out. Past ``CHANGES_MAX_BYTES``, a last entry, with no value on either side, says
    how many more there are."""
    before = leaves(comparable(registrable(described)))
    after = leaves(comparable(rendered))
    paths = [
        path
        for path in sorted(before.keys() | after.keys())
        if not path.startswith(_OURS) and before.get(path, _ABSENT) != after.get(path, _ABSENT)
    ]
    paths.sort(key=lambda path: not _is_image(path))
    found: list[FieldChange] = []
    size = 0
    for index, path in enumerate(paths):
        change = FieldChange(
            path=path,
            before=_shown(before.get(path, _ABSENT)),
            after=_shown(after.get(path, _ABSENT)),
        )
        size += len(json.dumps(change.model_dump(), separators=(",", ":")).encode())
        if size > CHANGES_MAX_BYTES:
            more = len(paths) - index
            # Neither side: a note, not a field (the messages show it as a line of its own).
            note = f"... and {more} more changed fields: bluegreen diff lists every one"
            found.append(FieldChange(path=note, before=None, after=None))
            break
        found.append(change)
    return found


def _is_image(path: str) -> bool:
    return path.startswith("containerDefinitions[") and path.endswith("].image")


def _shown(value: Any) -> str | None:
    """A field's value as approvers read it (None: absent); a long one cut, and said so."""
    if value is _ABSENT:
        return None
    shown = value if isinstance(value, str) else json.dumps(value)
    if len(shown) > VALUE_MAX_CHARS:
        cut = VALUE_MAX_CHARS - 40
        shown = f"{shown[:cut]}... ({len(shown) - cut} more characters)"
    return shown
