"""``bluegreen recover`` against a local stack with the sample, driven as an operator would.

A lock is left the way SuspendScaling leaves it (the product's own ``suspend`` step, for a
pushed image's execution in production, the sample's last environment, once dev deployed
it), and the janitor's status-change rule is disabled, so an execution stopped then leaves
the lock held, as when its cleanup event is lost. Dev (another account, ECS's rolling update)
has a lock of its own.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from bluegreen.adapters.autoscaling import ScalableTargets
from bluegreen.adapters.stepfunctions import TaskCallbacks
from bluegreen.adapters.store import StateTable
from bluegreen.domain.digest import short_digest
from bluegreen.models import DeploymentState
from bluegreen.steps.scaling import restore, suspend
from bluegreen_cli.demo import push_image
from bluegreen_cli.follow import wait_for_execution
from bluegreen_cli.local.server import LocalStack
from bluegreen_cli.main import app
from click.testing import Result
from typer.testing import CliRunner

KEY = "demo/web"
DEV_KEY = "111111111111:demo-dev/web"  # the sample's dev environment, in another account
STATUS_CHANGE_RULE = "bluegreen-JanitorFunctionExecutionEndedWithoutCleanup"
NOT_SUSPENDED = {
    "DynamicScalingInSuspended": False,
    "DynamicScalingOutSuspended": False,
    "ScheduledScalingSuspended": False,
}


@dataclass
class Sample:
    stack: LocalStack
    machine: str
    table: StateTable

    def scaling(self) -> dict[str, Any]:
        found = self.stack.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=["service/demo/web"]
        )["ScalableTargets"][0]
        return {
            "suspended": found["SuspendedState"],
            "min": found["MinCapacity"],
            "max": found["MaxCapacity"],
        }

    def owner(self, key: str = KEY) -> str | None:
        lock = self.table.lock(key)
        return None if lock is None or not lock.get("owner") else str(lock["owner"])


@pytest.fixture(scope="module")
def sample() -> Iterator[Sample]:
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    root, moto_log = logging.getLogger(), logging.getLogger("moto")
    saved_handlers, saved_level = root.handlers[:], moto_log.level
    root.handlers[:] = [logging.NullHandler()]
    moto_log.setLevel(logging.CRITICAL)
    try:
        with LocalStack(port=0, sample=True, function_environment=quiet) as stack:
            stack.client("events").disable_rule(Name=STATUS_CHANGE_RULE)
            machine = next(
                m["stateMachineArn"]
                for m in stack.client("stepfunctions").list_state_machines()["stateMachines"]
                if m["name"].endswith("-deploy")
            )
            table = next(
                t for t in stack.client("dynamodb").list_tables()["TableNames"] if "StateTable" in t
            )
            yield Sample(stack, machine, StateTable(stack.client("dynamodb"), table))
    finally:
        moto_log.setLevel(saved_level)
        root.handlers[:] = saved_handlers


@dataclass
class Locked:
    """A pushed image's execution holding the service's lock, scaling suspended."""

    arn: str
    name: str
    scaling_before: dict[str, Any]  # before the execution suspended it


@pytest.fixture
def locked(sample: Sample) -> Iterator[Locked]:
    sfn = sample.stack.client("stepfunctions")
    tag = secrets.token_hex(20)
    digest = push_image(sample.stack.client("ecr"), "demo-web", tag)
    # Promoted to production once dev deployed it; there it waits for its approval.
    arn = wait_for_execution(sfn, sample.machine, f"prod-{short_digest(digest)}", timeout=60)
    # Past Admit (which reads the queue this fixture is about to fill): asking its approvers.
    deadline = time.monotonic() + 60
    while not any(
        e.get("stateEnteredEventDetails", {}).get("name") == "RequestApproval"
        for e in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    ):
        assert time.monotonic() < deadline, "production's execution never asked for approval"
        time.sleep(0.1)
    document = DeploymentState.model_validate_json(
        sfn.describe_execution(executionArn=arn)["input"]
    )
    targets = ScalableTargets(sample.stack.client("application-autoscaling"))
    before = sample.scaling()
    suspend(document, targets, sample.table, datetime.now(UTC))  # as SuspendScaling does
    yield Locked(arn, document.execution_name, before)
    if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        sfn.stop_execution(executionArn=arn)
    if sample.owner() == document.execution_name:  # a test that left it held
        callbacks = TaskCallbacks(sfn)
        restore(
            document.service,
            document.execution_name,
            None,
            targets,
            sample.table,
            callbacks,
            datetime.now(UTC),
        )


def stop(sample: Sample, execution_arn: str) -> None:
    sfn = sample.stack.client("stepfunctions")
    sfn.stop_execution(executionArn=execution_arn, error="Operator", cause="stopped midway")
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not stop"
        time.sleep(0.1)


def bluegreen(sample: Sample, *args: str, answer: str | None = None) -> Result:
    result = CliRunner().invoke(
        app,
        ["--endpoint-url", sample.stack.endpoint_url, "--region", "us-east-1", *args],
        input=answer,
    )
    assert "Traceback" not in result.output, result.output
    return result


def test_recover_says_so_when_nothing_is_held(sample: Sample) -> None:
    assert sample.owner() is None

    result = bluegreen(sample, "recover", "demo-web")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "demo/web is not locked: nothing to recover"


def test_recover_of_an_unknown_service_is_a_one_line_error(sample: Sample) -> None:
    result = bluegreen(sample, "recover", "nope", "--yes")

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"bluegreen: no service named 'nope' (configured: demo-web (dev: {DEV_KEY}, prod: {KEY}))"
    ]


def test_recover_leaves_a_running_deployments_lock_alone(sample: Sample, locked: Locked) -> None:
    result = bluegreen(sample, "recover", "demo-web", "--yes", "--json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["report"] is None
    assert shown["lock"]["owner"] == locked.name
    assert shown["lock"]["owner_status"] == "RUNNING"
    assert shown["after"] == shown["lock"]
    assert "the lock is its own, nothing to recover" in result.stderr
    assert sample.owner() == locked.name


def test_recover_shows_the_lock_of_an_ended_execution_and_recovers_it_once_confirmed(
    sample: Sample, locked: Locked
) -> None:
    stop(sample, locked.arn)
    assert sample.scaling()["suspended"] == {k: True for k in NOT_SUSPENDED}

    result = bluegreen(sample, "recover", "demo-web", answer="y\n")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"demo/web is locked by {locked.name} since " in out
    assert "its owner ended ABORTED at " in out
    assert "scaling saved at " in out
    assert "service/demo/web, not suspended before" in out
    assert "janitor: recovered" in out
    assert "lock of demo/web released" in out
    assert sample.owner() is None
    assert sample.scaling() == locked.scaling_before
    assert locked.scaling_before == {"suspended": NOT_SUSPENDED, "min": 2, "max": 10}

    again = bluegreen(sample, "recover", "demo-web", "--yes")
    assert again.exit_code == 0
    assert "not locked" in again.stdout


def test_recover_declined_changes_nothing(sample: Sample, locked: Locked) -> None:
    stop(sample, locked.arn)

    result = bluegreen(sample, "recover", "demo-web", answer="n\n")

    assert result.exit_code == 1
    assert "its owner ended ABORTED" in result.stdout
    assert result.stdout.rstrip().endswith("nothing was done")
    assert sample.owner() == locked.name
    assert sample.scaling()["suspended"] == {k: True for k in NOT_SUSPENDED}


def test_recover_with_yes_reports_as_json(sample: Sample, locked: Locked) -> None:
    stop(sample, locked.arn)

    result = bluegreen(sample, "recover", "demo/web", "--yes", "--json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["service"] == KEY
    assert shown["report"]["outcome"] == "recovered"
    assert shown["report"]["owner"] == locked.name
    assert shown["after"]["owner"] is None


@pytest.mark.parametrize("named", [("demo-web", "--env", "dev"), (DEV_KEY,)])
def test_recover_of_the_dev_environment_looks_at_its_own_lock(
    sample: Sample, named: tuple[str, ...]
) -> None:
    assert sample.owner(DEV_KEY) is None

    result = bluegreen(sample, "recover", *named)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{DEV_KEY} is not locked: nothing to recover"


def test_recover_releases_the_dev_lock_of_an_ended_execution_and_leaves_production_alone(
    sample: Sample, locked: Locked
) -> None:
    """A dev execution stopped midway, its lock left held (taken in its name as TakeTurn
    takes it, should it have stopped before): no scaling was suspended (a rolling update)."""
    sfn = sample.stack.client("stepfunctions")
    digest = push_image(sample.stack.client("ecr"), "demo-web", secrets.token_hex(20))
    arn = wait_for_execution(sfn, sample.machine, f"dev-{short_digest(digest)}", timeout=30)
    stop(sample, arn)
    name = arn.rsplit(":", 1)[-1]
    sample.table.acquire_lock(DEV_KEY, name, datetime.now(UTC))
    scaling = sample.scaling()

    result = bluegreen(sample, "recover", DEV_KEY, "--yes", "--json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["service"] == DEV_KEY
    assert (shown["lock"]["owner"], shown["lock"]["owner_status"]) == (name, "ABORTED")
    assert shown["lock"]["snapshot"] is None
    assert f"{DEV_KEY} is locked by {name} since " in result.stderr
    assert "scaling: nothing saved (it never suspended scaling)" in result.stderr
    assert shown["report"]["outcome"] == "recovered"
    assert (
        f"lock of {DEV_KEY} released (rolling: ECS finishes its deployment)"
        in (shown["report"]["actions"])
    )
    assert shown["after"]["owner"] is None
    assert sample.owner(DEV_KEY) is None
    # Production's lock and scaling are another environment's: untouched.
    assert sample.owner() == locked.name
    assert sample.scaling() == scaling
