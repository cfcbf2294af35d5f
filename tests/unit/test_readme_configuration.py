"""The README's configuration examples are configurations the product accepts."""

from __future__ import annotations

import re

from bluegreen.config import ServiceCatalog

from tests.unit.builders import ROOT


def examples() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configure a service") : readme.index("## The local stack")]
    return re.findall(r"```toml\n(.*?)```", section, flags=re.DOTALL)


def test_a_single_environment_service_as_the_readme_shows_it() -> None:
    single = examples()[0]

    (service,) = ServiceCatalog.parse(single, "README.md").services

    assert (service.name, service.task_definition) == ("checkout", None)


def test_environments_and_a_template_as_the_readme_shows_them() -> None:
    _, environments, template = examples()

    dev, prod = ServiceCatalog.parse(environments + template, "README.md").pipeline("checkout")

    assert (dev.method, prod.method) == ("rolling", "codedeploy-bluegreen")
    assert dev.task_definition is not None
    assert prod.task_definition is not None
    assert (dev.task_definition["family"], prod.task_definition["family"]) == (
        "checkout-dev",
        "checkout",
    )
    assert dev.repositories == ["checkout", "checkout-proxy"]
