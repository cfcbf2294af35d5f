"""The service configuration: which ECR repository deploys to which ECS service, and how.

One document, TOML or JSON, with a table per service under ``services``. A service lists
its environments in the order an image goes through them; what they share is said once::

    [services.checkout]
    repository = "checkout"
    container = "app"
    container_port = 8080

    [services.checkout.environments.dev]      # every push, rolling, nobody asked
    role_arn = "arn:aws:iam::111111111111:role/bluegreen-deploy"
    cluster = "dev"
    service = "checkout"
    method = "rolling"
    approvers = []

    [services.checkout.environments.prod]     # the same digest, once dev succeeded
    cluster = "prod"
    ...

A service without ``environments`` is a single environment described by its own fields.

A service may render its task definition from a template kept here rather than from the
revision it runs (see :mod:`bluegreen.domain.template`)::

    [services.checkout.images]                # placeholder = repository, one per repository
    IMAGE1_NAME = "checkout"
    IMAGE2_NAME = "checkout-proxy"

    [services.checkout.task_definition]       # RegisterTaskDefinition's arguments
    family = "checkout"
    ...                                       # containerDefinitions, each image "<IMAGE1_NAME>"...

    [services.checkout.environments.dev.task_definition]   # this environment's values
    cpu = "256"
    log_group = "/ecs/dev/checkout"
    containers.app.environment = { LOG_LEVEL = "debug" }

An installation keeps it in an SSM parameter (the template's ``ServicesParameterName``),
read by the trigger once per cold start; the operators' CLI reads the same parameter, or a
file. Nothing is bundled: the package knows no service. Every problem is reported with the
path of the field it concerns (``services.checkout.timings.probe_interval_seconds: ...``).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bluegreen.domain import template
from bluegreen.errors import ConfigurationInvalid, ServiceNotConfigured
from bluegreen.models import ServiceConfig, TaskDefinitionValues

# A problem's value is quoted up to this length: enough to recognise it, never a whole blob.
_QUOTED_VALUE_CHARS = 80


def _decode(text: str) -> Any:
    """The document as data: JSON when it starts like JSON, TOML otherwise."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from e
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"not valid TOML: {e}") from e


def _quoted(value: Any) -> str:
    if isinstance(value, dict | list):
        return ""
    shown = repr(value)
    if len(shown) > _QUOTED_VALUE_CHARS:
        shown = shown[: _QUOTED_VALUE_CHARS - 3] + "..."
    return f" (got {shown})"


def _field_problems(
    prefix: str, error: ValidationError, shared: tuple[str, Collection[str]] | None = None
) -> list[str]:
    """Each problem at its field's path; ``shared``: where the fields in it were written,
    when not under ``prefix`` (a service's shared fields, for one of its environments)."""
    problems = []
    for detail in error.errors(include_url=False):
        top = str(detail["loc"][0]) if detail["loc"] else ""
        at = shared[0] if shared is not None and top in shared[1] else prefix
        where = ".".join([at, *(str(part) for part in detail["loc"])])
        value = "" if detail["type"] in ("missing", "extra_forbidden") else _quoted(detail["input"])
        problems.append(f"{where}: {detail['msg']}{value}")
    return problems


@dataclass(frozen=True)
class _Stage:
    """One environment's fields to validate, where they are written, and which of them it
    takes from the service (a problem there is the service's, reported once)."""

    at: str
    fields: dict[str, Any]
    inherited: frozenset[str]
    values: Any = None  # the environment's own task definition values, if it has some


# What a service shares with all its environments; everything else is per environment.
_SHARED_FIELDS = frozenset(
    {"repository", "container", "container_port", "tag_pattern", "rollback_requires_approval",
     "timings", "slack", "commit_url", "task_definition", "images"}
)  # fmt: skip


def _environments(name: str, entry: dict[str, Any]) -> tuple[list[_Stage], list[str]]:
    """Each environment's fields, the service's shared ones merged in, or the problems.

    A service without ``environments`` is one environment, named by its ``environment``
    field: the fields describe it directly.
    """
    where = f"services.{name}"
    stages = entry.get("environments")
    if stages is None:
        return [_Stage(f"services.{name}", {"name": name, **entry}, frozenset())], []
    if not isinstance(stages, dict) or not stages:
        return [], [f"{where}.environments: must be a table of environments, keyed by name"]
    misplaced = sorted(set(entry) - _SHARED_FIELDS - {"environments"})
    if misplaced:
        return [], [
            f"{where}.{key}: belongs to an environment (under {where}.environments.<name>)"
            for key in misplaced
        ]
    shared = {key: value for key, value in entry.items() if key != "environments"}
    merged, problems = [], []
    for env, fields in stages.items():
        if not isinstance(fields, dict):
            problems.append(f"{where}.environments.{env}: must be a table of fields")
            continue
        if "environment" in fields or "pipeline" in fields:
            problems.append(
                f"{where}.environments.{env}: the environment's name is its key; "
                "remove 'environment' and 'pipeline'"
            )
            continue
        if "images" in fields:
            problems.append(
                f"{where}.environments.{env}.images: every environment runs the same images "
                f"(under {where}.images)"
            )
            continue
        values = fields.get("task_definition")
        fields = {key: value for key, value in fields.items() if key != "task_definition"}
        timings = {**_table(shared.get("timings")), **_table(fields.get("timings"))}
        slack = fields.get("slack", shared.get("slack"))
        if fields.get("approvers") == [] and isinstance(slack, dict):
            slack = {**slack, "approvers": []}  # no approvers: nobody is asked, in Slack either
        inherited = frozenset(set(shared) - set(fields) - {"timings", "slack"})
        fields_at = f"{where}.environments.{env}"
        merged.append(
            _Stage(
                fields_at,
                {
                    "name": name,
                    **shared,
                    **fields,
                    "environment": env,
                    "pipeline": list(stages),
                    **({"timings": timings} if timings else {}),
                    **({"slack": slack} if slack is not None else {}),
                },
                inherited,
                values,
            )
        )
    return merged, problems


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _services(document: Any) -> tuple[list[ServiceConfig], list[str]]:
    """Every service in each of its environments, in pipeline order, and every problem."""
    if not isinstance(document, dict):
        return [], ["the document must be a table (TOML) or an object (JSON)"]
    problems = [
        f"{key}: unknown key (expected only 'services')" for key in document if key != "services"
    ]
    entries = document.get("services", {})
    if not isinstance(entries, dict):
        return [], [*problems, "services: must be a table of services, keyed by name"]
    services: list[ServiceConfig] = []
    for name, entry in entries.items():
        where = f"services.{name}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table of fields")
            continue
        if "name" in entry:
            problems.append(f"{where}.name: the service's name is its key; remove this field")
            continue
        stages, found = _environments(name, entry)
        problems += found
        base = _template_problems(where, entry)
        problems += base
        seen: set[str] = set()
        for stage in stages:
            found = _rendered_from_template(where, stage, valid=not base)
            problems += [p for p in found if p not in seen]
            seen.update(found)
            try:
                services.append(ServiceConfig.model_validate(stage.fields))
            except ValidationError as e:
                for problem in _field_problems(stage.at, e, (where, stage.inherited)):
                    problem = problem.replace(f"{where}.name:", f"{where}:", 1)
                    if problem not in seen:  # a shared field's problem, once
                        seen.add(problem)
                        problems.append(problem)
    return services, problems


def _template_problems(where: str, entry: dict[str, Any]) -> list[str]:
    """The service's task definition template and its images, checked once: they are the
    same in every environment. Then what ECS's API would refuse of it."""
    base, images = entry.get("task_definition"), entry.get("images", {})
    if base is None:
        return []
    if not isinstance(images, dict):
        return [f'{where}.images: must be a table: placeholder = "<repository>"']
    named = {key: value for key, value in images.items() if isinstance(value, str)}
    found = template.problems(base, named)
    if not found:
        from bluegreen.adapters.ecs_requests import register_problems

        found = [
            (f"task_definition.{path}".rstrip("."), what) for path, what in register_problems(base)
        ]
    return [f"{where}.{path}: {what}" for path, what in found]


def _rendered_from_template(where: str, stage: _Stage, valid: bool) -> list[str]:
    """Put the environment's task definition in ``stage``: the service's template with the
    environment's values merged in; or what is wrong with the values, or with the
    container and repository the environment names (each written where it was)."""
    fields, values = stage.fields, stage.values
    base = fields.get("task_definition")
    at = f"{stage.at}.task_definition"
    if base is None:
        if values is not None:
            return [f"{at}: values for a template, and {where} has none ({where}.task_definition)"]
        return []
    if not valid:  # its problems are the service's, said once
        fields.pop("task_definition")
        fields.pop("images", None)
        return []
    problems: list[str] = []
    container_at = where if "container" in stage.inherited or stage.at == where else stage.at
    names = [str(c.get("name")) for c in template.containers(base)]
    if fields.get("container") not in names:
        problems.append(
            f"{container_at}.container: {fields.get('container')!r} is not a container of the "
            f"task definition template (has: {', '.join(names)})"
        )
    repository_at = where if "repository" in stage.inherited or stage.at == where else stage.at
    images = fields.get("images") or {}
    if isinstance(images, dict) and fields.get("repository") not in images.values():
        problems.append(
            f"{repository_at}.repository: {fields.get('repository')!r} has no placeholder in "
            f"{where}.images (a push of it would change nothing)"
        )
    if values is None:
        return problems
    try:
        own = TaskDefinitionValues.model_validate(values)
    except ValidationError as e:
        return problems + _field_problems(at, e)
    found = template.value_problems(base, own)
    if found:
        return problems + [f"{at}.{path}: {what}" for path, what in found]
    fields["task_definition"] = template.merged(base, own)
    return problems


class ServiceCatalog:
    def __init__(self, services: list[ServiceConfig]) -> None:
        self.services = services

    @classmethod
    def parse(cls, text: str, source: str) -> ServiceCatalog:
        """The catalog ``text`` describes; ``ConfigurationInvalid`` naming ``source`` if not."""
        try:
            document = _decode(text)
        except ValueError as e:
            raise ConfigurationInvalid(source, [str(e)]) from e
        services, problems = _services(document)
        if problems:
            raise ConfigurationInvalid(source, problems)
        return cls(services)

    @classmethod
    def load(cls, path: str | Path) -> ServiceCatalog:
        """The catalog in a file (TOML or JSON)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            raise ConfigurationInvalid(str(file), [f"cannot read it: {why}"]) from e
        return cls.parse(text, str(file))

    def fed_by(self, repository: str) -> list[ServiceConfig]:
        """Where a push of ``repository`` deploys: the first environment of every service it
        feeds (as the service's own repository, or through a template's placeholder), in the
        configuration's order; ``ServiceNotConfigured`` when it feeds none."""
        found: dict[str, ServiceConfig] = {}
        for service in self.services:
            if repository in service.repositories:
                found.setdefault(service.name, service)
        if not found:
            known = sorted({r for s in self.services for r in s.repositories})
            raise ServiceNotConfigured(
                f"repository {repository!r} is not in the service configuration "
                f"(configured: {', '.join(known) or 'none'})"
            )
        return list(found.values())

    def for_repository(self, repository: str) -> ServiceConfig:
        """Where a push of ``repository`` deploys first: the first service it feeds, in that
        service's first environment (:meth:`fed_by` names every one)."""
        return self.fed_by(repository)[0]

    def pipeline(self, name: str) -> list[ServiceConfig]:
        """The service's environments, in the order an image goes through them."""
        found = [service for service in self.services if service.name == name]
        if not found:
            known = ", ".join(sorted({s.name for s in self.services})) or "none"
            raise ServiceNotConfigured(f"no service named {name!r} (configured: {known})")
        return found

    def named(self, name: str, environment: str | None = None) -> ServiceConfig:
        """The service in ``environment``; by default its last (production, usually)."""
        stages = self.pipeline(name)
        if environment is None:
            return stages[-1]
        for service in stages:
            if service.environment == environment:
                return service
        known = ", ".join(s.environment for s in stages)
        raise ServiceNotConfigured(
            f"service {name!r} has no environment {environment!r} (its environments: {known})"
        )

    def after(self, service: ServiceConfig) -> ServiceConfig | None:
        """The environment a success in ``service``'s promotes to, as configured now."""
        following = service.next_environment
        return None if following is None else self.named(service.name, following)
