"""The operators' commands against a local stack, driven as an operator would.

One local stack for the module (free ports, so it never collides with another stack) and
one real deployment through the sample's pipeline: pushed to ECR, deployed to dev (nobody
asked), promoted to prod and approved there through the emailed link's page. Then the
commands are run with typer's CliRunner and their ``--json`` output checked.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bluegreen.domain.digest import short_digest
from bluegreen_cli import approval_page
from bluegreen_cli.commands.ops import _help, _outcome
from bluegreen_cli.demo import outbox_links, push_image, set_sample_health
from bluegreen_cli.follow import TERMINAL, wait_for_execution
from bluegreen_cli.local.server import LocalStack
from bluegreen_cli.main import app
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from tests.unit.local.harness import free_port

APPROVER = "approver@example.com"
DEV_KEY = "111111111111:demo-dev/web"  # the sample's dev environment, in another account
CONFIGURED = f"demo-web (dev: {DEV_KEY}, prod: demo/web)"


@dataclass
class Deployed:
    stack: LocalStack
    machine_arn: str
    tag: str
    digest: str
    name: str  # its execution in prod, the last environment
    dev_name: str  # its execution in dev, the first

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.stack.client("stepfunctions")
        return list(sfn.list_executions(stateMachineArn=self.machine_arn)["executions"])


def _new_link(endpoint: str, known: set[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [link for link in outbox_links(endpoint, APPROVER) if link not in known]
        if fresh:
            known.add(fresh[-1])
            return fresh[-1]
        time.sleep(0.2)
    raise TimeoutError("no new approval email")


def _wait_end(stack: LocalStack, arn: str, timeout: float = 60) -> dict[str, Any]:
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] in TERMINAL:
            return dict(described)
        time.sleep(0.3)
    raise TimeoutError(f"{arn} did not end")


_LINKS: set[str] = set()


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    # The stack's threads log (moto each failed state, e.g. a rejection) while a command under
    # test runs: keep that out of the command's stderr, and out of any handler an earlier test
    # left on a stream that is closed by now.
    root, moto_log = logging.getLogger(), logging.getLogger("moto")
    saved_handlers, saved_level = root.handlers[:], moto_log.level
    root.handlers[:] = [logging.NullHandler()]
    moto_log.setLevel(logging.CRITICAL)
    try:
        with LocalStack(port=0, sample=True, function_environment=quiet) as stack:
            sfn = stack.client("stepfunctions")
            machine = next(
                m["stateMachineArn"]
                for m in sfn.list_state_machines()["stateMachines"]
                if m["name"].endswith("-deploy")
            )
            tag = secrets.token_hex(20)
            digest = push_image(stack.client("ecr"), "demo-web", tag)
            dev = wait_for_execution(sfn, machine, f"demo-web-dev-{short_digest(digest)}", 30)
            # Production asks once dev has deployed the image: its approval email says so.
            answer = approval_page.decide(_new_link(stack.endpoint_url, _LINKS), "approve")
            assert answer.status == 200
            prod = wait_for_execution(sfn, machine, f"demo-web-prod-{short_digest(digest)}", 30)
            assert _wait_end(stack, dev)["status"] == "SUCCEEDED"
            assert _wait_end(stack, prod)["status"] == "SUCCEEDED"
            names = [arn.rsplit(":", 1)[-1] for arn in (prod, dev)]
            yield Deployed(stack, machine, tag, digest, *names)
    finally:
        moto_log.setLevel(saved_level)
        root.handlers[:] = saved_handlers


def bluegreen(deployed: Deployed, *args: str, **env: str) -> Result:
    """Run the CLI against the module's stack, with the global options."""
    result = CliRunner().invoke(
        app,
        [
            "--endpoint-url",
            deployed.stack.endpoint_url,
            "--region",
            "us-east-1",
            *args,
        ],
        env=env or None,
    )
    assert "Traceback" not in result.output, result.output
    return result


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- executions / show / history of the pushed deployment -----------------------------


def test_executions_list_the_deployment_in_each_environment(deployed: Deployed) -> None:
    listed = as_json(bluegreen(deployed, "executions", "--json"))

    mine = {e["environment"]: e for e in listed if deployed.tag == e["tag"]}
    assert (mine["dev"]["name"], mine["dev"]["source"]) == (deployed.dev_name, "ecr-push")
    assert (mine["prod"]["name"], mine["prod"]["source"]) == (deployed.name, "promotion")
    for execution in mine.values():
        assert execution["status"] == "SUCCEEDED"
        assert execution["service"] == "demo-web"
        assert 0 < execution["duration_seconds"] < 60
        assert execution["error"] is None
    assert [e["started"] for e in listed] == sorted((e["started"] for e in listed), reverse=True)


def test_executions_filter_by_status_and_service(deployed: Deployed) -> None:
    failed = as_json(bluegreen(deployed, "executions", "--status", "FAILED", "--json"))
    by_key = as_json(bluegreen(deployed, "executions", "--service", "demo/web", "--json"))
    lowercase = as_json(bluegreen(deployed, "executions", "--status", "succeeded", "--json"))

    assert deployed.name not in [e["name"] for e in failed]
    assert deployed.name in [e["name"] for e in by_key]
    assert deployed.dev_name not in [e["name"] for e in by_key]  # demo/web is prod's key
    assert deployed.name in [e["name"] for e in lowercase]


def test_executions_of_a_service_are_of_every_environment_unless_env_says_which(
    deployed: Deployed,
) -> None:
    def names(*args: str) -> list[str]:
        return [e["name"] for e in as_json(bluegreen(deployed, "executions", *args, "--json"))]

    mine = {deployed.dev_name, deployed.name}
    assert mine <= set(names("--service", "demo-web"))
    assert mine & set(names("--service", "demo-web", "--env", "dev")) == {deployed.dev_name}
    assert mine & set(names("--service", DEV_KEY)) == {deployed.dev_name}
    assert mine & set(names("--env", "prod")) == {deployed.name}
    listed = bluegreen(deployed, "executions", "--service", "demo-web", "--env", "dev").stdout
    row = next(line for line in listed.splitlines() if line.startswith(deployed.dev_name))
    assert row.split()[1:4] == ["SUCCEEDED", "demo-web", "dev"]


def test_executions_of_an_unknown_service_is_a_one_line_error(deployed: Deployed) -> None:
    result = bluegreen(deployed, "executions", "--service", "nope")

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"bluegreen: no service named 'nope' (configured: {CONFIGURED})"
    ]


def test_services_are_named_as_the_installations_parameter_configures_them(
    deployed: Deployed,
) -> None:
    """No file given: the names come from the SSM parameter the local stack's sample set."""
    found = as_json(bluegreen(deployed, "executions", "--service", "demo-web", "--json"))

    assert deployed.name in [e["name"] for e in found]


def test_a_services_file_names_services_offline(deployed: Deployed, tmp_path: Path) -> None:
    """With a file, no parameter is read: not even one that does not exist."""
    configured = deployed.stack.client("ssm").get_parameter(Name="/bluegreen/services")
    (tmp_path / "services.toml").write_text(configured["Parameter"]["Value"])

    found = bluegreen(
        deployed, "executions", "--service", "demo-web", "--json",
        "--services-file", str(tmp_path / "services.toml"), "--services-parameter", "/nope",
    )  # fmt: skip

    assert found.exit_code == 0, found.output
    assert deployed.name in [e["name"] for e in json.loads(found.stdout)]


def test_a_missing_configuration_parameter_is_a_one_line_error_saying_what_to_do(
    deployed: Deployed,
) -> None:
    result = bluegreen(deployed, "executions", "--service", "x", "--services-parameter", "/nope")

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "bluegreen: SSM parameter /nope: does not exist (name the configuration with "
        "--services-parameter NAME, or read a file with --services-file FILE)"
    ]


def test_a_stack_nothing_is_named_after_is_a_one_line_error(deployed: Deployed) -> None:
    """The local stack has no CloudFormation: the app is found by its names, and only by
    the names of the stack asked for (never another app's)."""
    result = bluegreen(deployed, "--stack", "staging", "executions", "--json")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "bluegreen: no stack 'staging' (CloudFormation holds no stack; no state machine "
        "staging-deploy, apps found by name: bluegreen); pass --stack NAME"
    ]


def test_an_unknown_status_is_refused(deployed: Deployed) -> None:
    result = bluegreen(deployed, "executions", "--status", "DONE")

    assert result.exit_code == 2
    assert "DONE" in result.output


def test_show_gives_the_document_and_its_phases(deployed: Deployed) -> None:
    shown = as_json(bluegreen(deployed, "show", deployed.name, "--json"))

    document = shown["document"]
    assert shown["status"] == "SUCCEEDED"
    assert shown["state"] == "Deployed"
    assert document["image"]["digest"] == deployed.digest
    assert document["approval"]["approver"] == APPROVER
    assert document["deployment"]["deployment_id"].startswith("d-")
    assert document["deployment"]["status"] == "Succeeded"
    assert document["probe"]["healthy"] is True
    assert document["render"]["task_definition"] != document["render"]["previous_task_definition"]
    assert "rollback" not in document
    assert [p["phase"] for p in shown["phases"]][:3] == [
        "render task definition",
        "wait for approval",
        "suspend scaling",
    ]
    assert "roll back" not in [p["phase"] for p in shown["phases"]]


def test_show_for_people(deployed: Deployed) -> None:
    result = bluegreen(deployed, "show", deployed.name)

    assert result.exit_code == 0, result.output
    assert f"approved by {APPROVER}" in result.stdout
    assert "SUCCEEDED (Deployed)" in result.stdout
    assert "wait for approval" in result.stdout


def test_show_says_where_each_environment_took_the_image(deployed: Deployed) -> None:
    dev = as_json(bluegreen(deployed, "show", deployed.dev_name, "--json"))
    prod = as_json(bluegreen(deployed, "show", deployed.name, "--json"))

    assert (dev["environment"], dev["status"], dev["source"]) == ("dev", "SUCCEEDED", "ecr-push")
    assert dev["decision"] is None  # nobody is asked in dev
    assert dev["codedeploy"] is None  # ECS's rolling update: no CodeDeploy deployment
    assert dev["document"]["promotion"]["execution_name"] == deployed.name
    assert (prod["environment"], prod["source"]) == ("prod", "promotion")
    assert prod["document"]["promoted_from"] == "dev"
    assert prod["document"]["image"]["digest"] == dev["document"]["image"]["digest"]

    def rows(name: str) -> dict[str, str]:
        shown = bluegreen(deployed, "show", name).stdout.splitlines()
        return dict(
            line.rstrip().split(maxsplit=1)
            for line in shown
            if line.startswith(("environment", "promotion"))
        )

    assert rows(deployed.dev_name) == {
        "environment": "dev",
        "promotion": f"{deployed.tag} promoted to prod: {deployed.name}",
    }
    assert rows(deployed.name)["environment"] == "prod"
    said = bluegreen(deployed, "show", deployed.name).stdout.splitlines()
    assert any(line.split() == ["promoted", "from", "dev"] for line in said)


def test_show_of_an_unknown_execution_is_a_one_line_error(deployed: Deployed) -> None:
    result = bluegreen(deployed, "show", "no-such-execution")

    assert result.exit_code == 2
    assert (
        result.stderr.strip() == "bluegreen: no execution 'no-such-execution' of bluegreen-deploy"
    )


def test_history_says_what_runs(deployed: Deployed) -> None:
    history = as_json(bluegreen(deployed, "history", "demo-web", "--json"))

    entry = next(d for d in history["deployments"] if d["execution_name"] == deployed.name)
    assert history["service"] == "demo/web"
    assert entry["outcome"] == "succeeded"
    assert entry["tag"] == deployed.tag
    assert entry["approved_by"] == APPROVER
    finished = [d["finished_at"] for d in history["deployments"]]
    assert finished == sorted(finished, reverse=True)
    # whatever ran last is marked, and it is what ECS serves
    running = [d for d in history["deployments"] if d["running"]]
    assert len(running) == 1
    assert running[0]["task_definition"] == history["running_task_definition"]
    assert deployed.dev_name not in [d["execution_name"] for d in history["deployments"]]


@pytest.mark.parametrize("named", [("demo-web", "--env", "dev"), (DEV_KEY,)])
def test_history_of_the_dev_environment_says_what_runs_there(
    deployed: Deployed, named: tuple[str, ...]
) -> None:
    """Dev is another account's: its service is read through the environment's role."""
    history = as_json(bluegreen(deployed, "history", *named, "--json"))

    assert history["service"] == DEV_KEY
    assert history["running_task_definition"].startswith(
        "arn:aws:ecs:us-east-1:111111111111:task-definition/web:"
    )
    entry = next(d for d in history["deployments"] if d["execution_name"] == deployed.dev_name)
    assert (entry["environment"], entry["outcome"]) == ("dev", "succeeded")
    assert entry["tag"] == deployed.tag
    assert entry["approved_by"] is None  # nobody is asked in dev
    assert deployed.name not in [d["execution_name"] for d in history["deployments"]]
    running = [d for d in history["deployments"] if d["running"]]
    assert [d["task_definition"] for d in running] == [history["running_task_definition"]]


def test_history_for_people_says_what_runs_first(deployed: Deployed) -> None:
    result = bluegreen(deployed, "history", "demo/web")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("demo/web runs ")
    row = next(line for line in result.stdout.splitlines()[1:] if deployed.name in line)
    # its environment, the outcome in words, and CodeDeploy's own status for it
    assert row.split()[:7] == [
        "▶",
        *row.split()[1:3],
        "prod",
        deployed.tag[:12],
        "deployed",
        APPROVER,
    ]
    assert row.split()[7] == "Succeeded"


def test_history_shows_a_refused_push_and_why(deployed: Deployed) -> None:
    stack = deployed.stack
    digest = push_image(stack.client("ecr"), "demo-web", "latest")
    assert stack.events.wait_idle()
    assert stack.async_invocations.wait_idle()

    # Refused where the push would have deployed (dev), and kept in every environment's
    # history: the image goes nowhere, and operators look at production's.
    history = as_json(bluegreen(deployed, "history", "demo-web", "--env", "dev", "--json"))
    shown = bluegreen(deployed, "history", "demo-web", "--env", "dev")
    in_prod = as_json(bluegreen(deployed, "history", "demo-web", "--json"))

    refused = next(d for d in history["deployments"] if d.get("digest") == digest)
    assert (refused["outcome"], refused["tag"], refused["running"]) == ("refused", "latest", False)
    assert refused["execution_name"] is None
    assert refused["environment"] == "dev"
    assert digest in [d.get("digest") for d in in_prod["deployments"]]
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"{DEV_KEY} runs ")  # a refusal never hides what runs
    row = next(line for line in shown.stdout.splitlines() if "refused" in line)
    assert " latest " in row
    assert "refused: tag 'latest' is mutable and cannot identify a release" in row
    assert row.rstrip().endswith(" -")  # no execution to show


@pytest.mark.parametrize("name", ["nope", "demo/nope"])
def test_history_of_an_unknown_service_is_a_one_line_error_naming_the_known_ones(
    deployed: Deployed, name: str
) -> None:
    """A cluster/service nobody configured and the app has no record of is unknown too."""
    result = bluegreen(deployed, "history", name)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"bluegreen: no service named {name!r} (configured: {CONFIGURED})"
    ]


@pytest.mark.parametrize(
    ("named", "said"),
    [
        (
            ("demo-web", "--env", "staging"),
            "service 'demo-web' has no environment 'staging' (its environments: dev, prod)",
        ),
        (
            (DEV_KEY, "--env", "prod"),
            f"{DEV_KEY} is demo-web in dev, not in prod (its environments: dev, prod)",
        ),
    ],
    ids=["unknown-environment", "key-of-another-environment"],
)
def test_an_environment_the_service_has_not_is_a_one_line_error_naming_its_environments(
    deployed: Deployed, named: tuple[str, ...], said: str
) -> None:
    for command in ("history", "recover", "executions"):
        args = ("--service", *named) if command == "executions" else named
        result = bluegreen(deployed, command, *args)

        assert result.exit_code == 2, (command, result.output)
        assert result.stdout == ""
        assert result.stderr.strip().splitlines() == [f"bluegreen: {said}"]


# -- deploy ---------------------------------------------------------------------------


def test_deploy_refuses_a_mutable_tag_and_starts_nothing(deployed: Deployed) -> None:
    before = len(deployed.executions())

    result = bluegreen(deployed, "deploy", "demo-web", "--tag", "latest")

    assert result.exit_code == 2
    assert result.stderr.strip().startswith("bluegreen: tag 'latest' is mutable")
    assert len(deployed.executions()) == before


def test_deploy_of_an_unknown_service_is_a_one_line_error(deployed: Deployed) -> None:
    result = bluegreen(deployed, "deploy", "nope", "--tag", "3f2a9c1")

    assert result.exit_code == 2
    assert result.stderr.strip() == "bluegreen: no service named 'nope' (configured: demo-web)"


def test_deploy_of_an_image_not_in_ecr_is_a_one_line_error(deployed: Deployed) -> None:
    result = bluegreen(deployed, "deploy", "demo-web", "--tag", "0000000")

    assert result.exit_code == 2
    assert result.stderr.strip() == "bluegreen: no image demo-web:0000000 in ECR"


def test_deploy_by_hand_then_approve_from_the_terminal_and_follow(deployed: Deployed) -> None:
    stack = deployed.stack
    # An image whose push event got lost: the trigger's rule is off while it is pushed.
    events = stack.client("events")
    rule = next(
        r["Name"] for r in events.list_rules()["Rules"] if "aws.ecr" in r.get("EventPattern", "")
    )
    events.disable_rule(Name=rule)
    tag = secrets.token_hex(20)
    try:
        digest = push_image(stack.client("ecr"), "demo-web", tag)
        assert stack.events.wait_idle()
        assert stack.async_invocations.wait_idle()
    finally:
        events.enable_rule(Name=rule)
    assert not [e for e in deployed.executions() if short_digest(digest) in e["name"]]

    started = as_json(bluegreen(deployed, "deploy", "demo-web", "--tag", tag, "--json"))
    again = bluegreen(deployed, "deploy", "demo-web", "--tag", tag)

    assert started["outcome"] == "started"
    assert started["execution_name"] == f"demo-web-dev-{short_digest(digest)}"  # where a push goes
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith(f"duplicate: {started['execution_name']} already exists")
    in_dev = [e for e in deployed.executions() if e["name"] == started["execution_name"]]
    assert len(in_dev) == 1

    link = _new_link(stack.endpoint_url, _LINKS)  # production's, once dev deployed it
    approved = bluegreen(deployed, "approve", link)
    twice = bluegreen(deployed, "approve", link, "--json")

    assert approved.exit_code == 0, approved.output
    assert approved.stdout.startswith("Approved: demo-web ")
    assert twice.exit_code == 1
    assert json.loads(twice.stdout)["decision"] is None

    followed = bluegreen(
        deployed, "deploy", "demo-web", "--tag", tag, "--follow", "--timeout", "120", "--json"
    )

    assert followed.exit_code == 0, followed.output
    ended = json.loads(followed.stdout)
    assert ended["outcome"] == "duplicate"
    # Followed on from dev's execution to the one its success started in prod.
    prod_name = f"demo-web-prod-{short_digest(digest)}"
    assert [(f["environment"], f["execution_name"]) for f in ended["followed"]] == [
        ("dev", started["execution_name"]),
        ("prod", prod_name),
    ]
    assert ended["followed"][0]["runs"]["digest"] == digest  # dev runs it too
    progress = followed.stderr.splitlines()
    dev_ended = progress.index(f"next: {tag} promoted to prod: {prod_name}") - 1
    assert progress[dev_ended].startswith("deployed in ")
    assert progress[dev_ended].endswith(f"; dev runs demo-web:{tag} ({short_digest(digest)})")
    assert ended["status"] == "SUCCEEDED"
    assert "shift production traffic" in [p["phase"] for p in ended["phases"]]
    assert ended["production"]["tags"] == [tag]
    assert ended["production"]["digest"] == digest
    assert any("verify on test listener: probe" in line for line in progress)  # live
    assert progress[-1].startswith("deployed in ")
    assert progress[-1].endswith(f"; production runs demo-web:{tag} ({short_digest(digest)})")

    shown = as_json(bluegreen(deployed, "show", started["execution_name"], "--json"))
    history = as_json(bluegreen(deployed, "history", "demo-web", "--limit", "1", "--json"))

    assert shown["document"]["source"] == "cli"
    assert shown["document"]["image"]["digest"] == digest
    assert [(d["tag"], d["running"]) for d in history["deployments"]] == [(tag, True)]
    assert history["deployments"][0]["execution_name"] == prod_name


def test_reject_from_the_terminal(deployed: Deployed) -> None:
    stack = deployed.stack
    tag = secrets.token_hex(20)
    digest = push_image(stack.client("ecr"), "demo-web", tag)
    link = _new_link(stack.endpoint_url, _LINKS)  # production's, once dev deployed it
    arn = wait_for_execution(
        stack.client("stepfunctions"), deployed.machine_arn, f"prod-{short_digest(digest)}", 30
    )

    rejected = bluegreen(deployed, "reject", link, "--json")
    _wait_end(stack, arn)
    failed = as_json(bluegreen(deployed, "executions", "--status", "FAILED", "--json"))
    history = as_json(bluegreen(deployed, "history", "demo-web", "--limit", "1", "--json"))

    assert json.loads(rejected.stdout)["decision"] == "rejected"
    mine = next(e for e in failed if e["tag"] == tag)
    assert mine["error"]
    entry = history["deployments"][0]
    assert (entry["outcome"], entry["running"]) == ("not_deployed", False)
    assert (entry["rejected_by"], entry["rejection_reason"]) == (APPROVER, None)
    assert entry["reason"] == f"rejected by {APPROVER}"
    assert entry["environment"] == "prod"

    shown = as_json(bluegreen(deployed, "show", mine["name"], "--json"))
    for_people = bluegreen(deployed, "show", mine["name"]).stdout
    listed = bluegreen(deployed, "history", "demo-web", "--limit", "1").stdout

    assert shown["decision"]["decision"] == "rejected"
    assert shown["decision"]["by"] == APPROVER
    assert shown["decision"]["at"] is not None
    assert shown["environment"] == "prod"
    assert shown["codedeploy"] is None  # it never reached CodeDeploy
    approval = next(line for line in for_people.splitlines() if line.startswith("approval"))
    assert approval.split()[:4] == ["approval", "rejected", "by", APPROVER]
    row = listed.splitlines()[-1].split()
    assert row[2:6] == ["prod", tag[:12], "rejected", APPROVER]


# -- retry ----------------------------------------------------------------------------


def _rejected(deployed: Deployed, arn: str) -> str:
    """Reject the execution waiting at ``arn`` through its link; its name once it ended."""
    link = _new_link(deployed.stack.endpoint_url, _LINKS)
    assert bluegreen(deployed, "reject", link).exit_code == 0
    ended = _wait_end(deployed.stack, arn)
    assert ended["status"] == "FAILED"
    return str(ended["name"])


def test_a_rejected_deployment_is_retried_on_purpose_and_visibly(deployed: Deployed) -> None:
    stack = deployed.stack
    tag = secrets.token_hex(20)
    digest = push_image(stack.client("ecr"), "demo-web", tag)
    first = _rejected(
        deployed,
        wait_for_execution(
            stack.client("stepfunctions"), deployed.machine_arn, f"prod-{short_digest(digest)}", 60
        ),
    )
    # Deployed in dev, rejected in prod: the hint is to retry where it was not deployed.
    pushed_again = bluegreen(deployed, "deploy", "demo-web", "--tag", tag)
    assert pushed_again.stdout.startswith(
        f"duplicate: demo-web-dev-{short_digest(digest)} already exists (SUCCEEDED)"
    )
    assert f"it went on to {first} (FAILED)" in pushed_again.stdout
    assert f"to deploy this image again: bluegreen retry {first}" in pushed_again.stdout

    retried = as_json(bluegreen(deployed, "retry", first, "--json"))
    while_it_runs = bluegreen(deployed, "retry", first)

    assert retried["outcome"] == "started"
    assert retried["execution_name"] == f"{first}-retry2"
    assert retried["reason"] == f"demo-web:{tag} -> demo-web (prod) (retry of {first})"
    assert while_it_runs.exit_code == 2
    assert while_it_runs.stderr.strip() == (
        f"bluegreen: {first}-retry2, a retry of this image, is RUNNING: wait for it to end"
    )
    shown = as_json(bluegreen(deployed, "show", retried["execution_name"], "--json"))
    assert shown["retry_of"] == first
    assert shown["document"]["retry_of"] == first
    assert shown["document"]["source"] == "cli"
    assert shown["document"]["image"]["digest"] == digest
    assert shown["document"]["image"]["tag"] == tag
    for_people = bluegreen(deployed, "show", retried["execution_name"])
    assert any(line.split() == ["retry", "of", first] for line in for_people.stdout.splitlines())
    listed = as_json(bluegreen(deployed, "executions", "--json"))
    assert next(e for e in listed if e["name"] == retried["execution_name"])["retry_of"] == first

    # Rejected again, the image is retried under the next free number.
    _rejected(deployed, retried["execution_arn"])
    again = as_json(bluegreen(deployed, "retry", first, "--json"))
    assert again["execution_name"] == f"{first}-retry3"
    assert again["reason"].endswith(f"(retry of {first})")
    running = bluegreen(deployed, "retry", again["execution_name"])
    assert running.exit_code == 2
    assert running.stderr.strip().startswith(
        f"bluegreen: {first}-retry3 is RUNNING: it has not ended"
    )
    _rejected(deployed, again["execution_arn"])

    # Each attempt is a row of its own in the history, a retry saying whose.
    history = as_json(bluegreen(deployed, "history", "demo-web", "--limit", "3", "--json"))
    assert [(d["execution_name"], d["retry_of"]) for d in history["deployments"]] == [
        (f"{first}-retry3", first),
        (f"{first}-retry2", first),
        (first, None),
    ]
    for_people = bluegreen(deployed, "history", "demo-web", "--limit", "3").stdout
    assert for_people.count(f"retry of {first}") == 2


def test_a_rolled_back_deployment_is_followed_and_shown_as_codedeploy_ended_it(
    deployed: Deployed,
) -> None:
    """The checks are counted once (the error's count is show's count), and the deployment's
    status is CodeDeploy's own: stopped, and rolled back by a deployment that succeeded."""
    stack = deployed.stack
    set_sample_health(stack.endpoint_url, False)
    try:
        tag = secrets.token_hex(20)
        digest = push_image(stack.client("ecr"), "demo-web", tag)
        wait_for_execution(
            stack.client("stepfunctions"), deployed.machine_arn, short_digest(digest), 30
        )
        # Production's request, once dev deployed it (dev's own health is not switched off).
        assert bluegreen(deployed, "approve", _new_link(stack.endpoint_url, _LINKS)).exit_code == 0
        followed = bluegreen(
            deployed, "deploy", "demo-web", "--tag", tag, "--follow", "--timeout", "120"
        )
    finally:
        set_sample_health(stack.endpoint_url, True)
    name = f"demo-web-prod-{short_digest(digest)}"  # followed on to it from dev's

    assert followed.exit_code == 1
    lines = followed.stdout.splitlines()
    assert "verify on test listener: probe 0/3 passed (check 1 of at most 10)" in followed.stdout
    assert any("roll back: CodeDeploy's rollback d-" in line for line in lines)
    assert lines[-1].startswith("rolled back (TestTrafficUnhealthy: ")
    assert re.search(r"; production runs demo-web:\S+ \([0-9a-f]{12}\)$", lines[-1])
    assert tag not in lines[-1]

    shown = as_json(bluegreen(deployed, "show", name, "--json"))
    checks = shown["test_listener"]["checks"]
    assert shown["cause"].startswith(f"{checks} checks through the test listener")
    assert (shown["test_listener"]["ended_unhealthy"], shown["test_listener"]["healthy"]) == (
        True,
        False,
    )
    codedeploy = shown["codedeploy"]
    assert (codedeploy["source"], codedeploy["status"]) == ("codedeploy", "Stopped")
    assert codedeploy["rollback_deployment_id"].startswith("d-")
    assert codedeploy["rollback_status"] == "Succeeded"
    rows = dict(
        line.split(maxsplit=1) for line in bluegreen(deployed, "show", name).stdout.splitlines()
        if line.startswith(("deployment ", "test "))
    )  # fmt: skip
    assert rows["deployment"].startswith(
        f"{codedeploy['deployment_id']} Stopped, rolled back by "
        f"{codedeploy['rollback_deployment_id']} (Succeeded)"
    )
    assert f"({checks} checks, at most 10)" in rows["test"]

    history = as_json(bluegreen(deployed, "history", "demo-web", "--limit", "1", "--json"))
    entry = history["deployments"][0]
    assert (entry["execution_name"], entry["outcome"]) == (name, "rolled_back")
    assert entry["codedeploy"]["status"] == "Stopped"
    assert entry["codedeploy"]["rollback_status"] == "Succeeded"
    row = bluegreen(deployed, "history", "demo-web", "--limit", "1").stdout.splitlines()[-1]
    assert "rolled back (TestTrafficUnhealthy) " in row
    assert " Stopped, rolled back (Succeeded) " in row


def test_a_succeeded_running_or_unknown_execution_is_not_retried(deployed: Deployed) -> None:
    succeeded = bluegreen(deployed, "retry", deployed.name)
    unknown = bluegreen(deployed, "retry", "nope")

    assert succeeded.exit_code == 2
    assert succeeded.stderr.strip() == (
        f"bluegreen: {deployed.name} is SUCCEEDED: its image is deployed; only a FAILED, "
        "ABORTED or TIMED_OUT execution is retried"
    )
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == "bluegreen: no execution 'nope'"


# -- expected failures stay one line ----------------------------------------------------


def test_an_unreachable_endpoint_is_a_one_line_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = CliRunner().invoke(
        app, ["executions", "--endpoint-url", url], env={"AWS_MAX_ATTEMPTS": "1"}
    )

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"bluegreen: cannot reach {url}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_credentials_are_a_one_line_error(tmp_path: Path) -> None:
    empty = tmp_path / "none"
    result = CliRunner().invoke(
        app,
        ["--region", "us-east-1", "executions"],
        env={
            "AWS_ACCESS_KEY_ID": None,
            "AWS_SECRET_ACCESS_KEY": None,
            "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_ENDPOINT_URL": None,
            "AWS_CONFIG_FILE": str(empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
            "AWS_WEB_IDENTITY_TOKEN_FILE": None,
        },
    )

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith("bluegreen: no AWS credentials found")


@pytest.mark.parametrize("link", ["not-a-link", "http://127.0.0.1:1/somewhere/else"])
def test_approve_refuses_what_is_not_an_approval_link(link: str) -> None:
    result = CliRunner().invoke(app, ["approve", link])

    assert result.exit_code == 2
    assert result.stderr.startswith("bluegreen: not an approval link")


def test_approve_of_an_unreachable_page_is_a_one_line_error() -> None:
    link = f"http://127.0.0.1:{free_port()}/approvals/abc?r=x&s=y"

    result = CliRunner().invoke(app, ["reject", link])

    assert result.exit_code == 1
    assert result.stderr.startswith("bluegreen: cannot reach http://127.0.0.1:")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "command", ["executions", "show", "history", "deploy", "retry", "approve", "reject"]
)
def test_every_command_explains_itself_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])

    assert result.exit_code == 0
    assert f"Example: bluegreen {command}" in result.stdout
    assert "--json" in result.stdout


def test_help_keeps_paragraphs_and_joins_their_lines() -> None:
    assert (
        _help("First line.\n\n    Second\n    paragraph.\n") == "First line.\n\nSecond paragraph."
    )


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ({"outcome": "succeeded"}, "deployed"),
        (
            {"outcome": "superseded", "error": "Superseded",
             "reason": "superseded by v1.4.1 (9f8e7d6c5b4a), pushed later"},
            "superseded by v1.4.1 (9f8e7d6c5b4a), pushed later",
        ),
        (
            {"outcome": "not_deployed", "error": "ImageOutdated",
             "reason": "v1.4.0 (0123456789ab) was pushed before v1.4.1 (9f8e7d6c5b4a)"},
            "outdated: v1.4.0 (0123456789ab) was pushed before v1.4.1 (9f8e7d6c5b4a)",
        ),
        (
            {"outcome": "not_deployed", "error": "ApprovalRejected", "reason": "rejected by a@x.io",
             "rejected_by": "a@x.io", "rejection_reason": None},
            "rejected",
        ),
        (
            {"outcome": "not_deployed", "error": "ApprovalRejected",
             "reason": "rejected by a@x.io: breaks checkout", "rejected_by": "a@x.io",
             "rejection_reason": "breaks checkout"},
            "rejected: breaks checkout",
        ),
        (
            {"outcome": "not_deployed", "error": "States.Timeout",
             "reason": "nobody approved or rejected before the approval timed out"},
            "approval timed out",
        ),
        (
            {"outcome": "rolled_back", "error": "TestTrafficUnhealthy", "reason": "8 checks"},
            "rolled back (TestTrafficUnhealthy)",
        ),
        (
            {"outcome": "refused", "reason": "tag 'latest' is mutable"},
            "refused: tag 'latest' is mutable",
        ),
    ],
    ids=["deployed", "superseded", "outdated", "rejected", "rejected-why", "expired",
         "rolled-back", "refused"],
)  # fmt: skip
def test_a_history_row_says_how_it_ended_in_words(row: dict[str, Any], said: str) -> None:
    console = Console(file=io.StringIO(), width=300)
    console.print(_outcome(row))

    assert console.file.getvalue().strip() == said  # type: ignore[attr-defined]
