"""Promotion's rules, without AWS: where an image comes from, and what may be promoted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bluegreen.config import ServiceCatalog
from bluegreen.domain.digest import short_digest
from bluegreen.domain.promotion import EnvironmentRun, elsewhere, promotable, source_of
from bluegreen.errors import PromotionRefused
from bluegreen.models import DeploymentProgress, ServiceConfig

from tests.unit.builders import NOW, digest, image, state


def pipeline(*environments: str) -> list[ServiceConfig]:
    """Service ``web`` in ``environments``, in that order."""
    stages = "".join(
        f'[services.web.environments.{e}]\ncluster = "{e}"\nservice = "web"\n'
        'method = "rolling"\napprovers = []\n'
        for e in environments
    )
    text = f'[services.web]\nrepository = "web"\ncontainer = "web"\ncontainer_port = 8080\n{stages}'
    return ServiceCatalog.parse(text, "the test's pipeline").pipeline("web")


def run_in(environment: str, image_digest: str = digest("a")) -> EnvironmentRun:
    return EnvironmentRun(
        service="web",
        environment=environment,
        execution=f"web-{environment}-x",
        image=image(image_digest=image_digest),
        since=NOW,
    )


def test_an_image_is_promoted_from_the_environment_just_before() -> None:
    stages = pipeline("dev", "staging", "prod")

    assert source_of(stages, "prod").environment == "staging"
    assert source_of(stages, "staging").environment == "dev"


def test_nothing_is_promoted_to_the_first_environment() -> None:
    with pytest.raises(PromotionRefused, match=r"dev is the first environment of web \(dev -> "):
        source_of(pipeline("dev", "prod"), "dev")
    with pytest.raises(PromotionRefused, match="web has one environment, prod: a push deploys"):
        source_of(pipeline("prod"), "prod")


def test_only_what_the_environment_before_runs_is_promotable() -> None:
    dev = pipeline("dev", "prod")[0]
    runs = run_in("dev")

    assert promotable(runs, dev, "prod") == runs
    assert promotable(runs, dev, "prod", digest("a")) == runs
    with pytest.raises(PromotionRefused, match=f"not {short_digest(digest('b'))}: only the"):
        promotable(runs, dev, "prod", digest("b"))
    with pytest.raises(PromotionRefused, match="dev of web runs no image of ours"):
        promotable(None, dev, "prod")


def test_elsewhere_is_every_other_environment_running_the_same_digest() -> None:
    runs = [run_in("dev"), run_in("staging", digest("b")), run_in("prod")]

    found = elsewhere(runs, image(image_digest=digest("a")), "prod")

    assert [r.environment for r in found] == ["dev"]


def test_an_environment_runs_an_image_since_its_deployment_finished_or_else_now() -> None:
    finished = NOW - timedelta(minutes=4)
    deployed = state(deployment=DeploymentProgress(deployment_id="d-1", finished_at=finished))

    assert EnvironmentRun.of(deployed, NOW).since == finished
    assert EnvironmentRun.of(state(), NOW).since == NOW  # no deployment seen to finish
