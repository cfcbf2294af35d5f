"""The service configuration kept as code: ``services.toml`` beside this module.

``BLUEGREEN_SERVICES_FILE`` points at another file (an installation's own, or a test's).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from bluegreen.errors import ConfigurationInvalid, ServiceNotConfigured
from bluegreen.models import ServiceConfig


class ServiceCatalog:
    def __init__(self, services: list[ServiceConfig]) -> None:
        self.services = services

    @classmethod
    def parse(cls, text: str, source: str = "services.toml") -> ServiceCatalog:
        try:
            document = tomllib.loads(text)
            entries = document.get("services", {})
            services = [ServiceConfig(name=name, **entry) for name, entry in entries.items()]
        except (tomllib.TOMLDecodeError, ValidationError, TypeError) as e:
            raise ConfigurationInvalid(f"{source}: {e}") from e
        return cls(services)

    @classmethod
    def load(cls, path: str | Path | None = None) -> ServiceCatalog:
        if path:
            file = Path(path)
            try:
                return cls.parse(file.read_text(encoding="utf-8"), str(file))
            except OSError as e:
                raise ConfigurationInvalid(f"cannot read {file}: {e.strerror}") from e
        bundled = resources.files("bluegreen").joinpath("services.toml")
        return cls.parse(bundled.read_text(encoding="utf-8"))

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
