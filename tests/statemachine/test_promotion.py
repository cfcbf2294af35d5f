"""Promotion, on the real ASL: the digest that succeeded in dev goes on to prod.

The module's stack has two blue/green targets in the app's own account: ``dev`` is the
second sample (``demo-2/web``), ``prod`` the first (``demo/web``). Its configuration is a
pipeline of ``demo-web``, dev then prod, each test saying how prod receives images. Images
are pushed to ECR as a build would: the trigger starts dev; what follows is the state
machine's (and, for a manual prod, the operator's ``bluegreen promote``).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from bluegreen.domain.digest import short_digest
from bluegreen.models import DeploymentState
from bluegreen_cli import approval_page
from bluegreen_cli.demo import push_image
from bluegreen_cli.follow import TERMINAL
from bluegreen_cli.local.sample import SAMPLE_TIMINGS
from bluegreen_cli.local.server import LocalStack
from bluegreen_cli.main import app
from typer.testing import CliRunner

APPROVER = "approver@example.com"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """The module's own stack: two sample targets, one per environment."""
    with LocalStack(port=0, sample=True, sample_count=2) as running:
        yield running


def pipeline(stack: LocalStack, promotion: str) -> str:
    """demo-web: dev on the second sample, then prod on the first, which takes images
    ``promotion``. Both ask the sample's approver."""
    prod, dev = stack.samples
    timings = "".join(f"{key} = {value!r}\n" for key, value in SAMPLE_TIMINGS.items())
    manner = f'promotion = "{promotion}"\n'

    def environment(name: str, sample: Any, extra: str = "") -> str:
        return f"""
[services.demo-web.environments.{name}]
{extra}cluster = "{sample.cluster_name}"
service = "{sample.service_name}"
codedeploy_application = "{sample.codedeploy_application}"
deployment_group = "{sample.deployment_group}"
test_url = "{sample.test_url}/health"
approvers = ["{APPROVER}"]
"""

    return f"""
[services.demo-web]
repository = "demo-web"
container = "web"
container_port = 8080

[services.demo-web.timings]
{timings}
{environment("dev", dev)}
{environment("prod", prod, manner)}
"""


@dataclass
class Image:
    tag: str
    digest: str

    @property
    def short(self) -> str:
        return short_digest(self.digest)


@dataclass
class Pipeline:
    stack: LocalStack
    machine: str

    def configure(self, promotion: str) -> None:
        name = self.stack.app.parameters["ServicesParameterName"] if self.stack.app else ""
        value = pipeline(self.stack, promotion)
        self.stack.client("ssm").put_parameter(Name=name, Value=value, Overwrite=True)

    def push(self) -> Image:
        """A build's push: ECR's event starts dev."""
        tag = secrets.token_hex(20)
        return Image(tag, push_image(self.stack.client("ecr"), "demo-web", tag))

    def arn(self, name: str) -> str:
        return self.machine.replace(":stateMachine:", ":execution:") + f":{name}"

    def started(self, name: str, timeout: float = 30) -> dict[str, Any]:
        sfn = self.stack.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            try:
                return dict(sfn.describe_execution(executionArn=self.arn(name)))
            except sfn.exceptions.ExecutionDoesNotExist:
                assert time.monotonic() < deadline, f"{name} never started"
                time.sleep(0.3)

    def finish(self, name: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (found := self.started(name))["status"] not in TERMINAL:
            assert time.monotonic() < deadline, f"{name} still runs"
            time.sleep(0.3)
        return found

    def exists(self, name: str) -> bool:
        sfn = self.stack.client("stepfunctions")
        try:
            sfn.describe_execution(executionArn=self.arn(name))
        except sfn.exceptions.ExecutionDoesNotExist:
            return False
        return True

    def request(self, image: Image, environment: str, timeout: float = 30) -> dict[str, Any]:
        """The approval email asking to deploy ``image`` to ``environment``."""
        subject = f"Approve demo-web {image.tag} to {environment}?"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.stack.endpoint_url}/_local/outbox") as r:
                for message in json.load(r):
                    if message["channel"] == "email" and message["subject"].endswith(subject):
                        return dict(message)
            time.sleep(0.2)
        raise AssertionError(f"no request to deploy {image.tag} to {environment}")

    def approve(self, image: Image, environment: str) -> None:
        link = next(u for u in self.request(image, environment)["links"] if "/approvals/" in u)
        assert approval_page.decide(link, "approve").status == 200

    def runs(self, cluster: str) -> str:
        ecs = self.stack.client("ecs")
        service = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
        return str(definition["taskDefinition"]["containerDefinitions"][0]["image"])

    def deploy_dev(self, image: Image) -> dict[str, Any]:
        """dev deploys the push: approved, and its execution's end."""
        self.approve(image, "dev")
        return self.finish(f"demo-web-dev-{image.short}")


@pytest.fixture(scope="module")
def pipe(stack: LocalStack) -> Pipeline:
    sfn = stack.client("stepfunctions")
    machine = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"].endswith("-deploy")
    )
    found = Pipeline(stack, machine)
    found.configure("automatic")
    return found


def document(execution: dict[str, Any], key: str = "input") -> DeploymentState:
    return DeploymentState.model_validate_json(execution[key])


def test_a_success_in_dev_promotes_the_same_digest_to_prod_which_asks_and_deploys(
    pipe: Pipeline,
) -> None:
    pipe.configure("automatic")
    image = pipe.push()

    dev = pipe.deploy_dev(image)

    assert dev["status"] == "SUCCEEDED"
    assert pipe.runs("demo-2").endswith(f"@{image.digest}")
    promotion = document(dev, "output").promotion
    prod_name = f"demo-web-prod-{image.short}"
    assert promotion is not None
    assert (promotion.outcome, promotion.to, promotion.execution_name) == (
        "started",
        "prod",
        prod_name,
    )
    started = document(pipe.started(prod_name))
    assert (started.source, started.promoted_from) == ("promotion", "dev")
    assert (started.image.digest, started.image.tag) == (image.digest, image.tag)
    assert started.service.cluster == "demo"
    # prod's approvers are asked, told that dev runs the image already and since when.
    request = pipe.request(image, "prod")
    assert "Already runs in:  dev since " in request["text"]
    assert "(for less than a minute)" in request["text"] or "(for 1 minute)" in request["text"]
    assert "Pushed by:        promotion from dev" in request["text"]

    pipe.approve(image, "prod")
    prod = pipe.finish(prod_name)

    assert prod["status"] == "SUCCEEDED"
    assert pipe.runs("demo").endswith(f"@{image.digest}")
    last = document(prod, "output").promotion
    assert last is not None
    assert last.outcome == "last"


def test_a_manual_prod_gets_nothing_until_bluegreen_promote_starts_it(pipe: Pipeline) -> None:
    pipe.configure("manual")
    image = pipe.push()

    with ThreadPoolExecutor(1) as pool:  # an operator follows dev's deployment to its end
        follow = ("deploy", "demo-web", "--tag", image.tag, "--follow", "--timeout", "90")
        followed = pool.submit(_bluegreen, pipe, *follow)
        dev = pipe.deploy_dev(image)
        said = followed.result(timeout=120)

    assert dev["status"] == "SUCCEEDED"
    assert said.exit_code == 0, said.output
    assert "next: prod is promoted by hand: bluegreen promote demo-web --to prod" in said.output
    promotion = document(dev, "output").promotion
    assert promotion is not None
    assert promotion.outcome == "manual"
    assert promotion.detail == "prod is promoted by hand: bluegreen promote demo-web --to prod"
    prod_name = f"demo-web-prod-{image.short}"
    assert not pipe.exists(prod_name)

    refused = _bluegreen(pipe, "promote", "demo-web", "--to", "dev", "--yes")
    assert refused.exit_code == 2
    assert "dev is the first environment of demo-web" in refused.stderr
    assert not pipe.exists(prod_name)

    promoted = _bluegreen(pipe, "promote", "demo-web", "--to", "prod", "--yes", "--json")

    assert promoted.exit_code == 0, promoted.output
    said = json.loads(promoted.stdout)
    assert (said["outcome"], said["execution_name"]) == ("started", prod_name)
    started = document(pipe.started(prod_name))
    assert (started.source, started.promoted_from) == ("promotion", "dev")
    assert started.image.digest == image.digest
    assert "Already runs in:  dev since " in pipe.request(image, "prod")["text"]
    pipe.approve(image, "prod")
    assert pipe.finish(prod_name)["status"] == "SUCCEEDED"
    assert pipe.runs("demo").endswith(f"@{image.digest}")


def test_a_newer_image_promoted_to_prod_supersedes_an_older_one_waiting_for_approval(
    pipe: Pipeline,
) -> None:
    pipe.configure("automatic")
    older = pipe.push()
    assert pipe.deploy_dev(older)["status"] == "SUCCEEDED"
    older_prod = f"demo-web-prod-{older.short}"
    pipe.request(older, "prod")  # promoted: it waits for prod's approval

    newer = pipe.push()  # pushed later: ECR's push times order the two
    assert pipe.deploy_dev(newer)["status"] == "SUCCEEDED"
    ended = pipe.finish(older_prod, timeout=60)

    assert ended["status"] == "FAILED"
    assert ended["error"] == "Superseded"
    assert f"superseded by {newer.tag} ({newer.short})" in ended["cause"]
    pipe.approve(newer, "prod")
    assert pipe.finish(f"demo-web-prod-{newer.short}")["status"] == "SUCCEEDED"
    assert pipe.runs("demo").endswith(f"@{newer.digest}")


def test_a_promotion_that_cannot_start_needs_attention_and_dev_stays_deployed(
    pipe: Pipeline,
) -> None:
    image = pipe.push()
    pipe.request(image, "dev")  # the trigger read the configuration already
    name = pipe.stack.app.parameters["ServicesParameterName"] if pipe.stack.app else ""
    pipe.stack.client("ssm").put_parameter(Name=name, Value="not [valid", Overwrite=True)
    try:
        dev = pipe.deploy_dev(image)
    finally:
        pipe.configure("automatic")

    assert dev["status"] == "FAILED"
    assert dev["error"] == "PromotionFailed"
    assert f"{image.tag} is deployed to dev, but its promotion to prod failed" in dev["cause"]
    assert "ConfigurationInvalid" in dev["cause"]
    assert dev["cause"].endswith("promote it by hand: bluegreen promote demo-web --to prod")
    assert pipe.runs("demo-2").endswith(f"@{image.digest}")
    assert not pipe.exists(f"demo-web-prod-{image.short}")


def _bluegreen(pipe: Pipeline, *args: str) -> Any:
    result = CliRunner().invoke(
        app, ["--endpoint-url", pipe.stack.endpoint_url, "--region", "us-east-1", *args]
    )
    assert "Traceback" not in result.output, result.output
    return result
