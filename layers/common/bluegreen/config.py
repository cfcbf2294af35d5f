"""The service configuration: which ECR repository deploys to which ECS service, and how.

One document, TOML or JSON, with a table per service under ``services``::

    [services.checkout]
    repository = "checkout"
    ...

An installation keeps it in an SSM parameter (the template's ``ServicesParameterName``),
read by the trigger once per cold start; the operators' CLI reads the same parameter, or a
file. Nothing is bundled: the package knows no service. Every problem is reported with the
path of the field it concerns (``services.checkout.timings.probe_interval_seconds: ...``).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bluegreen.errors import ConfigurationInvalid, ServiceNotConfigured
from bluegreen.models import ServiceConfig

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


def _field_problems(prefix: str, error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors(include_url=False):
        where = ".".join([prefix, *(str(part) for part in detail["loc"])])
        value = "" if detail["type"] in ("missing", "extra_forbidden") else _quoted(detail["input"])
        problems.append(f"{where}: {detail['msg']}{value}")
    return problems


def _services(document: Any) -> tuple[list[ServiceConfig], list[str]]:
    """The services the document describes, and every problem found in it."""
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
        try:
            services.append(ServiceConfig.model_validate({"name": name, **entry}))
        except ValidationError as e:
            problems += [
                p.replace(f"{where}.name:", f"{where}:", 1) for p in _field_problems(where, e)
            ]
    owners: dict[str, str] = {}
    for service in services:
        first = owners.setdefault(service.repository, service.name)
        if first != service.name:
            problems.append(
                f"services.{service.name}.repository: {service.repository!r} is already "
                f"services.{first}'s; a push must name one service"
            )
    return services, problems


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

    def for_repository(self, repository: str) -> ServiceConfig:
        for service in self.services:
            if service.repository == repository:
                return service
        known = ", ".join(sorted(s.repository for s in self.services)) or "none"
        raise ServiceNotConfigured(
            f"repository {repository!r} is not in the service configuration (configured: {known})"
        )

    def named(self, name: str) -> ServiceConfig:
        for service in self.services:
            if service.name == name:
                return service
        known = ", ".join(sorted(s.name for s in self.services)) or "none"
        raise ServiceNotConfigured(f"no service named {name!r} (configured: {known})")
