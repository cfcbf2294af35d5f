"""Task definition templates: placeholders for images, an environment's values, the pins.

A template is a task definition as RegisterTaskDefinition takes it (CodePipeline's
``taskdef.json``), each container's image a placeholder, ``<IMAGE1_NAME>``, that the
service's ``images`` maps to a repository of the app's ECR (one placeholder per repository).
Rendering replaces each placeholder by an image pinned by digest: the pushed repository's
by the pushed digest, every other by the digest the environment runs now (read from its
live task definition), so that a push of one repository changes only its own containers.

Everything here is pure: the configuration's checks (:func:`problems`), an environment's
values merged over the template (:func:`merged`), and the rendering (:func:`pins`,
:func:`fill`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

from bluegreen.errors import ImageNotRunning, ImageRefused
from bluegreen.models import ImageRef, ServiceConfig, TaskDefinitionValues

# A placeholder stands for a container's whole image: ``<IMAGE1_NAME>``.
_PLACEHOLDER = re.compile(r"^<([^<>]*)>$")
_DIGEST = r"sha256:[0-9a-f]{64}"
# What DescribeTaskDefinition answers besides what RegisterTaskDefinition takes: ECS
# assigns these, a template copied from a described revision still carries them.
ASSIGNED_BY_ECS = frozenset(
    {"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
     "registeredAt", "registeredBy", "deregisteredAt"}
)  # fmt: skip

Problem = tuple[str, str]  # (the field's path under the template, what is wrong)


def placeholder_of(image: Any) -> str | None:
    """The placeholder an image is, ``IMAGE1_NAME`` for ``<IMAGE1_NAME>``; None otherwise."""
    found = _PLACEHOLDER.match(image) if isinstance(image, str) else None
    return found.group(1) if found else None


def containers(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The template's container definitions that are tables (the others are problems)."""
    listed = template.get("containerDefinitions")
    return [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []


def _at(index: int, container: Mapping[str, Any]) -> str:
    name = container.get("name")
    return f"containerDefinitions[{name if isinstance(name, str) and name else index}]"


def problems(template: Any, images: Mapping[str, str]) -> list[Problem]:
    """What is wrong with ``template`` and its ``images`` (placeholder -> repository), each at
    its path in the service (``task_definition.family``, ``images.IMAGE1_NAME``): the shape
    RegisterTaskDefinition needs (a family, containers with a name and an image), images
    that are placeholders of the app's ECR, and placeholders and repositories that match."""
    if not isinstance(template, dict):
        return [
            (
                "task_definition",
                "must be a table: the task definition as RegisterTaskDefinition takes it",
            )
        ]
    found = [(f"task_definition.{path}", what) for path, what in _template_problems(template)]
    found += _image_problems(template, images)
    return found


def _template_problems(template: dict[str, Any]) -> list[Problem]:
    found: list[Problem] = []
    for key in sorted(set(template) & ASSIGNED_BY_ECS):
        found.append((key, "ECS assigns it when it registers a revision: remove it"))
    family = template.get("family")
    if not isinstance(family, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", family):
        found.append(("family", "required: up to 255 letters, digits, hyphens and underscores"))
    listed = template.get("containerDefinitions")
    if not isinstance(listed, list) or not listed:
        found.append(("containerDefinitions", "required: a list of containers (at least one)"))
        listed = []
    names: set[str] = set()
    for index, container in enumerate(listed):
        where = f"containerDefinitions[{index}]"
        if not isinstance(container, dict):
            found.append((where, "must be a table"))
            continue
        name = container.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", name):
            found.append(
                (f"{where}.name", "required: up to 255 letters, digits, hyphens and underscores")
            )
        elif name in names:
            found.append((f"{where}.name", f"{name!r} names two containers"))
        else:
            names.add(name)
            where = _at(index, container)
        image = container.get("image")
        if placeholder_of(image) is not None:
            continue
        if not isinstance(image, str) or not image:
            found.append((f"{where}.image", "required: a placeholder such as <IMAGE1_NAME>"))
        else:
            found.append((f"{where}.image", _literal(image)))
    return found


def _image_problems(template: dict[str, Any], images: Mapping[str, str]) -> list[Problem]:
    """Placeholders and repositories that do not match, and placeholders out of place."""
    found: list[Problem] = []
    used: dict[str, list[str]] = {}
    for index, container in enumerate(containers(template)):
        placeholder = placeholder_of(container.get("image"))
        if placeholder is not None:
            used.setdefault(placeholder, []).append(f"task_definition.{_at(index, container)}")
    for placeholder, where_used in used.items():
        if placeholder not in images:
            for where in where_used:
                found.append(
                    (
                        f"{where}.image",
                        f"unknown placeholder <{placeholder}>: images names no repository "
                        f'for it (images.{placeholder or "NAME"} = "<repository>")',
                    )
                )
    for placeholder, repository in images.items():
        if placeholder not in used:
            found.append((f"images.{placeholder}", f"no container's image is <{placeholder}>"))
        host = registry_host(repository)
        if host is not None:
            found.append(
                (
                    f"images.{placeholder}",
                    f"{repository!r} is an image of another registry ({host}): a placeholder "
                    "stands for a repository of the app's ECR, named without its registry",
                )
            )
    owners: dict[str, str] = {}
    for placeholder, repository in images.items():
        first = owners.setdefault(repository, placeholder)
        if first != placeholder:
            found.append(
                (
                    f"images.{placeholder}",
                    f"{repository!r} is already images.{first}'s: one placeholder per repository",
                )
            )
    for path, value in _strings(template, "task_definition"):
        if not path.endswith(".image") and any(f"<{p}>" in value for p in images):
            found.append((path, "a placeholder stands only for a container's whole image"))
    return found


def _literal(image: str) -> str:
    host = registry_host(image)
    if host is not None and re.fullmatch(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com", host):
        return (
            f"{image!r} names an ECR image itself: write a placeholder (<IMAGE1_NAME>) and map "
            "it to its repository in images, so a push pins it by digest"
        )
    if "<" in image or ">" in image:
        return f"{image!r}: a placeholder is the whole image, such as <IMAGE1_NAME>"
    return (
        f"{image!r} is an image of another registry than the app's ECR: every image comes "
        "from the app's ECR through a placeholder (an ECR pull through cache rule copies a "
        "public image there)"
    )


def registry_host(reference: str) -> str | None:
    """The registry an image reference names, as Docker reads one: a first path component
    with a dot or a colon, or ``localhost``; None for a bare repository name."""
    first, slash, _rest = reference.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def _strings(document: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in ``document`` with its path (list items by name when they have one)."""
    if isinstance(document, str):
        yield path, document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            name = item.get("name") if isinstance(item, dict) else None
            yield from _strings(
                item, f"{path}[{name if isinstance(name, str) and name else index}]"
            )


def value_problems(template: Mapping[str, Any], values: TaskDefinitionValues) -> list[Problem]:
    """What an environment's values name that the template lacks, each at its path under
    the environment's ``task_definition``."""
    found: list[Problem] = []
    names = [str(c.get("name")) for c in containers(template)]
    for name in values.containers:
        if name not in names:
            found.append(
                (
                    f"containers.{name}",
                    f"no container {name!r} in the template (has: {', '.join(names)})",
                )
            )
    if values.log_group is not None and not _awslogs(template):
        found.append(("log_group", "no container of the template logs with the awslogs log driver"))
    return found


def _awslogs(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for c in containers(template)
        if isinstance(c.get("logConfiguration"), dict)
        and c["logConfiguration"].get("logDriver") == "awslogs"
    ]


def merged(template: Mapping[str, Any], values: TaskDefinitionValues) -> dict[str, Any]:
    """The template with an environment's values merged in: the task's family, cpu and
    memory replaced; each container's environment variables merged by name (the
    environment's win, the others keep their order); the awslogs group set."""
    document = copy.deepcopy(dict(template))
    for field in ("family", "cpu", "memory"):
        value = getattr(values, field)
        if value is not None:
            document[field] = value
    for container in containers(document):
        own = values.containers.get(str(container.get("name")))
        if own is not None and own.environment:
            variables = {
                str(v.get("name")): v
                for v in container.get("environment", [])
                if isinstance(v, dict)
            }
            for name, value in own.environment.items():
                variables[name] = {"name": name, "value": value}
            container["environment"] = list(variables.values())
    if values.log_group is not None:
        for container in _awslogs(document):
            options = dict(container["logConfiguration"].get("options") or {})
            options["awslogs-group"] = values.log_group
            container["logConfiguration"] = {**container["logConfiguration"], "options": options}
    return document


def fill(template: Mapping[str, Any], images: Mapping[str, str]) -> dict[str, Any]:
    """``template`` with each container's placeholder replaced by its image in ``images``;
    nothing else changes. An image that is no placeholder stays as it is: filling a rendered
    document again changes nothing."""
    document = copy.deepcopy(dict(template))
    for container in containers(document):
        placeholder = placeholder_of(container.get("image"))
        if placeholder is not None:
            container["image"] = images[placeholder]
    return document


def pins(service: ServiceConfig, pushed: ImageRef, live: Mapping[str, Any]) -> dict[str, str]:
    """Each placeholder's image for a deployment of ``pushed``: its own repository's pinned
    to the pushed digest, every other to the digest the environment runs (``live``, its
    task definition now). ``ImageNotRunning`` names a placeholder whose repository runs
    there by no digest; ``ImageRefused`` an image of a repository the template does not use.
    """
    if pushed.repository not in service.images.values():
        raise ImageRefused(
            f"repository {pushed.repository!r} has no placeholder in {service.name!r}'s task "
            f"definition template (its images: {_listed(service.images)})"
        )
    used: dict[str, list[str]] = {}  # each placeholder the containers use, and by whom
    for container in containers(service.task_definition or {}):
        placeholder = placeholder_of(container.get("image"))
        if placeholder is not None:
            used.setdefault(placeholder, []).append(str(container.get("name")))
    pinned: dict[str, str] = {}
    for placeholder, names in used.items():
        repository = service.images.get(placeholder)
        if repository is None:
            raise ImageRefused(f"<{placeholder}> has no repository in {service.name!r}'s images")
        if repository == pushed.repository:
            pinned[placeholder] = pushed.pinned
            continue
        uri = pushed.model_copy(update={"repository": repository}).repository_uri
        running = running_image(live, uri, names)
        if running is None:
            raise ImageNotRunning(
                f"<{placeholder}> ({repository}): the {service.environment} environment runs "
                f"no image of {uri} by digest ({_describe(live)}), and only the pushed "
                f"repository may change; push an image of {repository} to deploy it first"
            )
        pinned[placeholder] = running
    return pinned


def running_image(live: Mapping[str, Any], repository_uri: str, prefer: list[str]) -> str | None:
    """The image of ``repository_uri`` a task definition runs, pinned by its digest
    (``<uri>@sha256:...``; a tag beside the digest is dropped): the first of the containers
    named in ``prefer`` that runs one, else the first container that does."""
    pattern = re.compile(rf"^{re.escape(repository_uri)}(?::[^@/]+)?@({_DIGEST})$")
    found: dict[str, str] = {}
    for container in containers(live):
        match = pattern.match(str(container.get("image", "")))
        if match:
            found.setdefault(str(container.get("name")), f"{repository_uri}@{match.group(1)}")
    for name in prefer:
        if name in found:
            return found[name]
    return next(iter(found.values()), None)


def _describe(live: Mapping[str, Any]) -> str:
    family = (
        f"{live.get('family')}:{live.get('revision')}"
        if live.get("revision")
        else live.get("family")
    )
    images = ", ".join(f"{c.get('name')}: {c.get('image')}" for c in containers(live)) or "none"
    return f"its task definition {family} runs {images}"


def _listed(images: Mapping[str, str]) -> str:
    return ", ".join(f"<{p}> {r}" for p, r in images.items()) or "none"
