"""`bluegreen promote`, and where `deploy` and `retry` start in a pipeline, against a local
stack driven as an operator would.

The stack's configuration is a pipeline of the sample's ``demo-web``: ``dev`` (a cluster
nobody created: its deployments fail at Render, which a retry needs) then ``prod`` (the
sample's ``demo/web``), promoted by hand. What ``dev`` runs is recorded as Promote records
it after a success.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bluegreen.adapters.store import StateTable
from bluegreen.domain.digest import short_digest
from bluegreen.domain.promotion import EnvironmentRun
from bluegreen.models import DeploymentState, ImageRef
from bluegreen_cli.account import Account, Target
from bluegreen_cli.demo import push_image
from bluegreen_cli.follow import TERMINAL
from bluegreen_cli.local.server import LocalStack
from bluegreen_cli.main import app
from click.testing import Result
from typer.testing import CliRunner

PARAMETER = "/bluegreen/services"


def pipeline(test_url: str) -> str:
    return f"""
[services.demo-web]
repository = "demo-web"
container = "web"
container_port = 8080

[services.demo-web.environments.dev]
cluster = "demo-dev"
service = "web"
codedeploy_application = "demo-web"
deployment_group = "demo-web"
test_url = "{test_url}"
approvers = ["approver@example.com"]

[services.demo-web.environments.prod]
promotion = "manual"
cluster = "demo"
service = "web"
codedeploy_application = "demo-web"
deployment_group = "demo-web"
test_url = "{test_url}"
approvers = ["approver@example.com"]
"""


@dataclass
class Stack:
    stack: LocalStack
    table: StateTable
    machine: str

    def push(self) -> tuple[str, ImageRef]:
        """A new image in ECR: its tag, and the image as dev would have deployed it."""
        tag = secrets.token_hex(20)
        ecr = self.stack.client("ecr")
        digest = push_image(ecr, "demo-web", tag)
        (held,) = ecr.describe_images(repositoryName="demo-web", imageIds=[{"imageTag": tag}])[
            "imageDetails"
        ]
        image = ImageRef(
            registry_id="123456789012",
            region="us-east-1",
            repository="demo-web",
            tag=tag,
            digest=digest,
            pushed_at=held["imagePushedAt"],
        )
        return tag, image

    def dev_runs(self, image: ImageRef, minutes_ago: int = 12) -> None:
        since = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        run = EnvironmentRun(
            service="demo-web",
            environment="dev",
            execution=f"demo-web-dev-{short_digest(image.digest)}",
            image=image,
            since=since,
            pushed_by="ci@acme",
        )
        assert self.table.record_run(run)

    def execution(self, name: str) -> dict[str, Any]:
        sfn = self.stack.client("stepfunctions")
        arn = self.machine.replace(":stateMachine:", ":execution:") + f":{name}"
        return dict(sfn.describe_execution(executionArn=arn))

    def ended(self, name: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (found := self.execution(name))["status"] not in TERMINAL:
            assert time.monotonic() < deadline, f"{name} did not end"
            time.sleep(0.3)
        return found


@pytest.fixture(scope="module")
def local() -> Iterator[Stack]:
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    root, moto_log = logging.getLogger(), logging.getLogger("moto")
    saved_handlers, saved_level = root.handlers[:], moto_log.level
    root.handlers[:] = [logging.NullHandler()]
    moto_log.setLevel(logging.CRITICAL)
    try:
        with LocalStack(port=0, sample=True, function_environment=quiet) as stack:
            ssm = stack.client("ssm")
            test_url = f"{stack.sample.test_url}/health"
            ssm.put_parameter(Name=PARAMETER, Value=pipeline(test_url), Overwrite=True)
            resources = Account(Target(stack.endpoint_url, "us-east-1")).resources
            table = StateTable(stack.client("dynamodb"), resources.table())
            yield Stack(stack, table, resources.state_machine())
    finally:
        moto_log.setLevel(saved_level)
        root.handlers[:] = saved_handlers


def bluegreen(local: Stack, *args: str, answer: str | None = None) -> Result:
    result = CliRunner().invoke(
        app, ["--endpoint-url", local.stack.endpoint_url, "--region", "us-east-1", *args],
        input=answer,
    )  # fmt: skip
    assert "Traceback" not in result.output, result.output
    return result


def started_document(local: Stack, name: str) -> DeploymentState:
    return DeploymentState.model_validate_json(local.execution(name)["input"])


# -- promote ------------------------------------------------------------------------------


def test_promote_starts_prod_on_the_image_dev_runs(local: Stack) -> None:
    _, image = local.push()
    local.dev_runs(image)

    result = bluegreen(local, "promote", "demo-web", "--to", "prod", "--yes", "--json")

    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    name = f"demo-web-prod-{short_digest(image.digest)}"
    assert (said["outcome"], said["execution_name"], said["to"]) == ("started", name, "prod")
    assert said["from"]["environment"] == "dev"
    started = started_document(local, name)
    assert (started.service.environment, started.service.cluster) == ("prod", "demo")
    assert started.image == image
    assert (started.source, started.promoted_from, started.pushed_by) == (
        "promotion",
        "dev",
        "ci@acme",
    )


def test_promoting_the_same_image_again_starts_nothing_new(local: Stack) -> None:
    _, image = local.push()
    local.dev_runs(image)
    first = bluegreen(local, "promote", "demo-web", "--to", "prod", "--yes", "--json")

    again = bluegreen(local, "promote", "demo-web", "--to", "prod", "--yes", "--json")

    assert again.exit_code == 0, again.output
    said = json.loads(again.stdout)
    assert said["outcome"] == "duplicate"
    assert said["execution_name"] == json.loads(first.stdout)["execution_name"]
    assert "nothing new was started" in again.stderr


def test_a_tag_or_digest_that_dev_runs_is_promoted(local: Stack) -> None:
    tag, image = local.push()
    local.dev_runs(image)

    by_tag = bluegreen(local, "promote", "demo-web", "--to", "prod", "--tag", tag, "--yes")
    by_digest = bluegreen(
        local, "promote", "demo-web", "--to", "prod", "--digest", image.digest, "--yes"
    )

    assert by_tag.exit_code == 0, by_tag.output
    assert f"started demo-web-prod-{short_digest(image.digest)}" in by_tag.output
    assert by_digest.exit_code == 0, by_digest.output
    assert "duplicate" in by_digest.output


def test_an_image_dev_does_not_run_is_refused_naming_what_it_runs(local: Stack) -> None:
    older_tag, _ = local.push()
    _, image = local.push()
    local.dev_runs(image)

    result = bluegreen(local, "promote", "demo-web", "--to", "prod", "--tag", older_tag, "--yes")

    assert result.exit_code == 2
    assert f"dev runs {image.tag} ({short_digest(image.digest)}), not " in result.stderr
    assert "only the image dev runs is promoted to prod" in result.stderr


def test_the_first_environment_is_refused_a_push_deploys_it(local: Stack) -> None:
    result = bluegreen(local, "promote", "demo-web", "--to", "dev", "--yes")

    assert result.exit_code == 2
    assert "dev is the first environment of demo-web (dev -> prod)" in result.stderr
    assert "promote to prod instead" in result.stderr


def test_an_unknown_environment_or_service_is_refused_naming_what_exists(local: Stack) -> None:
    environment = bluegreen(local, "promote", "demo-web", "--to", "staging", "--yes")
    service = bluegreen(local, "promote", "shop", "--to", "prod", "--yes")

    assert environment.exit_code == 2
    assert "no environment 'staging' (its environments: dev, prod)" in environment.stderr
    assert service.exit_code == 2
    assert "no service named 'shop' (configured: demo-web)" in service.stderr


def test_an_environment_before_that_runs_nothing_of_ours_is_refused(local: Stack) -> None:
    local.table._ddb.delete_item(  # what a fresh installation has: no record of dev
        TableName=local.table._table,
        Key={"pk": {"S": "RUNS#demo-web"}, "sk": {"S": "ENV#dev"}},
    )

    result = bluegreen(local, "promote", "demo-web", "--to", "prod", "--yes")

    assert result.exit_code == 2
    assert "dev of demo-web runs no image of ours" in result.stderr


def test_both_tag_and_digest_are_refused(local: Stack) -> None:
    result = bluegreen(
        local, "promote", "demo-web", "--to", "prod", "--tag", "3f2a9c1", "--digest", "sha256:x"
    )

    assert result.exit_code == 2
    assert "give --tag or --digest, not both" in result.stderr


def test_without_yes_it_asks_and_a_no_promotes_nothing(local: Stack) -> None:
    _, image = local.push()
    local.dev_runs(image, minutes_ago=90)

    result = bluegreen(local, "promote", "demo-web", "--to", "prod", answer="n\n")

    assert result.exit_code == 1
    assert f"Promote demo-web {image.tag} ({short_digest(image.digest)}) from dev" in result.stderr
    assert "(runs it since " in result.stderr
    assert ", for 2 hours) to prod" in result.stderr
    assert "asks approver@example.com" in result.stderr
    assert "nothing was promoted" in result.stderr
    name = f"demo-web-prod-{short_digest(image.digest)}"
    with pytest.raises(local.stack.client("stepfunctions").exceptions.ExecutionDoesNotExist):
        local.execution(name)


# -- deploy and retry in a pipeline ---------------------------------------------------------


def test_deploy_starts_the_first_environment_as_a_push_would(local: Stack) -> None:
    tag, image = local.push()

    result = bluegreen(local, "deploy", "demo-web", "--tag", tag, "--json")

    assert result.exit_code == 0, result.output
    name = json.loads(result.stdout)["execution_name"]
    assert name == f"demo-web-dev-{short_digest(image.digest)}"
    assert started_document(local, name).service.environment == "dev"


def test_a_retry_deploys_again_to_the_same_environment(local: Stack) -> None:
    tag, image = local.push()
    first = json.loads(bluegreen(local, "deploy", "demo-web", "--tag", tag, "--json").stdout)
    assert local.ended(first["execution_name"])["status"] == "FAILED"  # dev has no cluster

    result = bluegreen(local, "retry", first["execution_name"], "--json")

    assert result.exit_code == 0, result.output
    retried = json.loads(result.stdout)["execution_name"]
    assert retried == f"demo-web-dev-{short_digest(image.digest)}-retry2"
    assert started_document(local, retried).service.environment == "dev"


def test_the_help_says_where_the_image_comes_from_and_when_it_is_refused() -> None:
    result = CliRunner().invoke(app, ["promote", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "the very image the environment before it runs" in text
    assert 'promotion = "automatic"' in text
    assert '"manual"' in text
    assert "Refused (exit status 2)" in text
    assert "Example: bluegreen promote demo-web --to prod --tag 3f2a9c1 --follow" in text
