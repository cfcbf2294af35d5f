"""Recovering locks whose owner execution ended: the sweep and the recovery request.

The state table, the scalable target and the executions are moto's (real ``StateTable``,
``ScalableTargets`` and ``ExecutionStatuses``); CodeDeploy is the group fake of the janitor's
own tests, the other side of its protocol.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from bluegreen.adapters.autoscaling import ScalableTargets
from bluegreen.adapters.stepfunctions import ExecutionStatuses, TaskCallbacks
from bluegreen.adapters.store import StateTable
from bluegreen.domain import deployment as rules
from bluegreen.domain.recovery import LockReport
from bluegreen.errors import LocksNotRecovered
from bluegreen.models import DeploymentState, ServiceConfig
from bluegreen.steps.janitor import ROLLBACK_PATIENCE, Reached, recover, sweep
from bluegreen.steps.scaling import suspend

from tests.unit.builders import (
    NOW,
    Aws,
    create_ecs_service,
    create_pass_machine,
    create_state_table,
    demo_service,
    digest,
    event,
    image,
    register_scalable_target,
    rendered,
    state,
    suspended_state,
)
from tests.unit.conftest import LambdaContext
from tests.unit.test_step_scaling_deployment import ALL, NONE, PARTLY, Group

# A handler whose run adds no metric makes Powertools say so.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
SERVICE = demo_service()
KEY = SERVICE.lock_key
DEPLOYMENT = rendered()
OTHER = rendered(state(image_ref=image(tag="4a5b6c7", image_digest=digest("build 2"))))
LONG_AFTER = ROLLBACK_PATIENCE + timedelta(minutes=1)


@dataclass
class World:
    aws: Aws
    table: StateTable
    targets: ScalableTargets
    executions: ExecutionStatuses
    machine: str
    codedeploy: Group
    callbacks: TaskCallbacks
    reached: list[ServiceConfig | None] = field(default_factory=list)

    def start(self, deployment: DeploymentState) -> str:
        """The execution of ``deployment``, RUNNING (its machine waits an hour)."""
        sfn = self.aws.client("stepfunctions")
        arn = str(
            sfn.start_execution(
                stateMachineArn=self.machine,
                name=deployment.execution_name,
                input=json.dumps(deployment.dump()),
            )["executionArn"]
        )
        # Waiting in its Wait state: moto's StopExecution fails on one not yet under way.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            history = sfn.get_execution_history(executionArn=arn)["events"]
            if any(e["type"] == "WaitStateEntered" for e in history):
                return arn
            time.sleep(0.02)
        raise AssertionError("the execution never entered its Wait state")

    def abort(self, execution_arn: str) -> datetime:
        """Stop the execution; when it ended, as Step Functions says."""
        sfn = self.aws.client("stepfunctions")
        sfn.stop_execution(executionArn=execution_arn)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] == "ABORTED":
                return described["stopDate"].astimezone(UTC)  # type: ignore[no-any-return]
            time.sleep(0.02)
        raise AssertionError("the execution was not aborted")

    def scaling(self) -> dict[str, bool] | None:
        return suspended_state(self.aws.client("application-autoscaling"), SERVICE)

    def owner(self, key: str = KEY) -> str | None:
        lock = self.table.lock(key)
        return None if lock is None else str(lock["owner"])

    def reach(self, service: ServiceConfig | None) -> Reached:
        """moto's one account stands in for every environment; which was asked is kept."""
        self.reached.append(service)
        return Reached(self.codedeploy, self.targets)

    def recover(self, now: datetime, key: str = KEY) -> LockReport:
        return recover(key, self.executions, self.reach, self.table, self.callbacks, now)

    def sweep(self, now: datetime) -> list[LockReport]:
        return sweep(self.executions, self.reach, self.table, self.callbacks, now)


@pytest.fixture
def world(aws: Aws) -> World:
    create_ecs_service(aws.client("ecs"), SERVICE)
    register_scalable_target(aws.client("application-autoscaling"), SERVICE, PARTLY)
    ddb = aws.client("dynamodb")
    sfn = aws.client("stepfunctions")
    machine = create_pass_machine(sfn)
    return World(
        aws,
        StateTable(ddb, create_state_table(ddb)),
        ScalableTargets(aws.client("application-autoscaling")),
        ExecutionStatuses(sfn, machine),
        machine,
        Group(),
        TaskCallbacks(sfn),
    )


def test_a_sweep_recovers_the_lock_of_an_execution_that_ended_without_cleanup(
    world: World,
) -> None:
    """Stopped, with its status-change event lost: scaling comes back exactly, the lock goes."""
    execution = world.start(DEPLOYMENT)
    suspend(DEPLOYMENT, world.targets, world.table, NOW)
    assert world.scaling() == ALL
    ended = world.abort(execution)

    (report,) = world.sweep(ended + LONG_AFTER)

    assert report.lock == KEY
    assert report.outcome == "recovered"
    assert report.owner == DEPLOYMENT.execution_name
    assert report.owner_status == "ABORTED"
    assert report.since == NOW.isoformat()
    assert report.actions == ["scaling of service/demo/web restored", "lock of demo/web released"]
    assert world.scaling() == PARTLY
    assert world.owner() is None


def test_sweeping_again_changes_nothing(world: World) -> None:
    ended = world.abort(world.start(DEPLOYMENT))
    suspend(DEPLOYMENT, world.targets, world.table, NOW)
    world.sweep(ended + LONG_AFTER)
    world.aws.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=SERVICE.scalable_target_id,
        ScalableDimension="ecs:service:DesiredCount",
        SuspendedState=NONE,  # an operator changes it afterwards: not ours to touch again
    )

    assert world.sweep(ended + LONG_AFTER * 2) == []
    report = world.recover(ended + LONG_AFTER * 2)

    assert report.outcome == "free"
    assert report.actions == ["nothing to recover: demo/web is not locked"]
    assert world.scaling() == NONE


def test_a_sweep_leaves_a_running_deployments_lock_alone(world: World) -> None:
    world.start(DEPLOYMENT)
    suspend(DEPLOYMENT, world.targets, world.table, NOW)
    world.codedeploy.add("d-ABC", "Ready", description=rules.description(DEPLOYMENT))

    (report,) = world.sweep(NOW + timedelta(days=1))

    assert report.outcome == "left-alone"
    assert report.owner_status == "RUNNING"
    assert report.actions == [f"left alone: {DEPLOYMENT.execution_name} is RUNNING"]
    assert world.owner() == DEPLOYMENT.execution_name
    assert world.scaling() == ALL
    assert world.codedeploy.stopped == []


def test_recovery_rolls_back_what_the_ended_execution_left_and_waits_for_the_rollback(
    world: World,
) -> None:
    """Recently ended: CodeDeploy's rollback is waited for, the lock and scaling with it."""
    ended = world.abort(world.start(DEPLOYMENT))
    suspend(DEPLOYMENT, world.targets, world.table, NOW)
    world.codedeploy.add("d-ABC", "Ready", description=rules.description(DEPLOYMENT))

    waiting = world.recover(ended + timedelta(seconds=20))

    assert waiting.outcome == "waiting"
    assert waiting.still_held_by_ended_owner
    assert world.codedeploy.stopped == ["d-ABC"]
    assert "CodeDeploy is rolling back with d-ABC-RB" in waiting.actions[0]
    assert world.owner() == DEPLOYMENT.execution_name
    assert world.scaling() == ALL

    world.codedeploy.set("d-ABC-RB", status="Succeeded")
    done = world.recover(ended + timedelta(seconds=80))

    assert done.outcome == "recovered"
    assert world.codedeploy.stopped == ["d-ABC"]  # not stopped twice
    assert world.scaling() == PARTLY
    assert world.owner() is None


def test_a_lock_whose_owner_step_functions_does_not_know_is_released_with_its_scaling(
    world: World,
) -> None:
    ghost = DEPLOYMENT.model_copy(update={"execution_name": "demo-web-gone"})
    suspend(ghost, world.targets, world.table, NOW)

    report = world.recover(NOW + timedelta(hours=1))

    assert report.outcome == "recovered"
    assert report.owner_status == "MISSING"
    assert report.actions == [
        "demo-web-gone is unknown to Step Functions: no CodeDeploy deployment looked at",
        "scaling of service/demo/web restored",
        "lock of demo/web released",
    ]
    assert world.scaling() == PARTLY
    assert world.owner() is None


DEV = demo_service(
    environment="dev",
    role_arn="arn:aws:iam::111111111111:role/bluegreen-deploy",
    cluster="demo-dev",
)
DEV_DEPLOYMENT = rendered(state(DEV))


def test_a_lock_in_another_account_is_recovered_where_its_owners_document_says(
    world: World,
) -> None:
    """Cross-account: the owner's document names the environment's role; CodeDeploy and
    scaling are reached through it, the lock (in the app's table) is released."""
    create_ecs_service(world.aws.client("ecs"), DEV)
    register_scalable_target(world.aws.client("application-autoscaling"), DEV, PARTLY)
    ended = world.abort(world.start(DEV_DEPLOYMENT))
    suspend(DEV_DEPLOYMENT, world.targets, world.table, NOW)

    (report,) = world.sweep(ended + LONG_AFTER)

    assert report.lock == DEV.lock_key == "111111111111:demo-dev/web"
    assert report.outcome == "recovered"
    assert world.reached == [DEV]
    assert suspended_state(world.aws.client("application-autoscaling"), DEV) == PARTLY
    assert world.owner(DEV.lock_key) is None


def test_an_unknown_owners_lock_in_another_account_is_released_saying_scaling_was_not_restored(
    world: World,
) -> None:
    """No document names the role to reach the other account with: the lock goes (the
    service may deploy again), and the report says the scaling needs a hand."""
    ghost = DEV_DEPLOYMENT.model_copy(update={"execution_name": "demo-web-gone"})
    create_ecs_service(world.aws.client("ecs"), DEV)
    register_scalable_target(world.aws.client("application-autoscaling"), DEV, PARTLY)
    suspend(ghost, world.targets, world.table, NOW)

    report = world.recover(NOW + timedelta(hours=1), key=DEV.lock_key)

    assert report.outcome == "recovered"
    assert report.actions == [
        "demo-web-gone is unknown to Step Functions: no CodeDeploy deployment looked at",
        "scaling of service/demo-dev/web in 111111111111 NOT restored: no document names the "
        "role to reach it (restore its SuspendedState by hand)",
        "lock of 111111111111:demo-dev/web released",
    ]
    assert world.reached == []
    assert suspended_state(world.aws.client("application-autoscaling"), DEV) == ALL
    assert world.owner(DEV.lock_key) is None


def test_one_lock_that_cannot_be_recovered_stops_no_other(world: World) -> None:
    # Held by hand for another service, in the name of an execution that deployed demo/web.
    other_ended = world.abort(world.start(OTHER))
    world.table.acquire_lock("other/api", OTHER.execution_name, NOW)
    ended = world.abort(world.start(DEPLOYMENT))
    suspend(DEPLOYMENT, world.targets, world.table, NOW)

    reports = world.sweep(max(ended, other_ended) + LONG_AFTER)

    assert [(r.lock, r.outcome) for r in reports] == [
        ("demo/web", "recovered"),
        ("other/api", "failed"),
    ]
    assert reports[1].actions == [
        f"{OTHER.execution_name} deployed demo/web, not other/api: left held"
    ]
    assert world.owner("other/api") == OTHER.execution_name
    assert world.owner() is None


def test_the_lock_listing_reads_only_locks(world: World) -> None:
    world.table.record_outcome(KEY, "an-execution", NOW, {"outcome": "succeeded"})
    world.table.acquire_lock("b/two", "second", NOW)
    world.table.acquire_lock("a/one", "first", NOW)

    found = world.table.held_locks()

    assert [(item["key"], item["owner"]) for item in found] == [
        ("a/one", "first"),
        ("b/two", "second"),
    ]


def test_a_report_is_plain_json(world: World) -> None:
    world.start(DEPLOYMENT)
    suspend(DEPLOYMENT, world.targets, world.table, NOW)

    document = world.recover(NOW).to_json()

    assert json.loads(json.dumps(document)) == {
        "lock": "demo/web",
        "outcome": "left-alone",
        "owner": DEPLOYMENT.execution_name,
        "since": NOW.isoformat(),
        "owner_status": "RUNNING",
        "actions": [f"left alone: {DEPLOYMENT.execution_name} is RUNNING"],
    }


# --- the janitor's handler -------------------------------------------------------------------

SCHEDULED_EVENT = event("janitor-scheduled.json")
RECOVER_DEMO_WEB = event("janitor-recover.json")


@pytest.fixture
def janitor(world: World, monkeypatch: pytest.MonkeyPatch, load_handler: Any) -> ModuleType:
    monkeypatch.setenv("TABLE_NAME", "bluegreen-state")
    monkeypatch.setenv("STATE_MACHINE_ARN", world.machine)
    module: ModuleType = load_handler("janitor")
    return module


def test_the_janitor_sweeps_on_eventbridges_scheduled_event(
    world: World, janitor: ModuleType, lambda_context: LambdaContext
) -> None:
    world.abort(world.start(DEPLOYMENT))
    suspend(DEPLOYMENT, world.targets, world.table, NOW)
    world.start(OTHER)  # holds another service's lock, and runs
    world.table.acquire_lock("other/api", OTHER.execution_name, NOW)

    answer = janitor.lambda_handler(SCHEDULED_EVENT, lambda_context)

    assert [(r["lock"], r["outcome"]) for r in answer["locks"]] == [
        ("demo/web", "recovered"),
        ("other/api", "left-alone"),
    ]
    assert world.scaling() == PARTLY
    assert world.owner("other/api") == OTHER.execution_name


def test_the_janitor_answers_a_recovery_request_with_its_report(
    world: World, janitor: ModuleType, lambda_context: LambdaContext
) -> None:
    world.abort(world.start(DEPLOYMENT))
    suspend(DEPLOYMENT, world.targets, world.table, NOW)

    answer = janitor.lambda_handler(RECOVER_DEMO_WEB, lambda_context)

    (report,) = answer["locks"]
    assert report["outcome"] == "recovered"
    assert report["owner_status"] == "ABORTED"
    assert world.owner() is None
    again = janitor.lambda_handler(RECOVER_DEMO_WEB, lambda_context)
    assert again["locks"][0]["outcome"] == "free"


def test_a_sweep_that_leaves_an_ended_owners_lock_fails_so_lambda_retries_it(
    world: World, janitor: ModuleType, lambda_context: LambdaContext
) -> None:
    world.abort(world.start(OTHER))
    world.table.acquire_lock("other/api", OTHER.execution_name, NOW)

    with pytest.raises(LocksNotRecovered, match=r"other/api: .* left held"):
        janitor.lambda_handler(SCHEDULED_EVENT, lambda_context)


def test_the_janitor_takes_a_recovery_request_for_a_service_in_another_account(
    world: World, janitor: ModuleType, lambda_context: LambdaContext
) -> None:
    answer = janitor.lambda_handler({"recover": DEV.lock_key}, lambda_context)

    assert answer["locks"][0]["outcome"] == "free"


@pytest.mark.parametrize(
    "unknown",
    [
        {"recover": "demo"},
        {"recover": "../x/y"},
        {"recover": "1111:demo-dev/web"},
        {"detail-type": "Something"},
        {},
    ],
)
def test_the_janitor_refuses_what_it_does_not_know(
    janitor: ModuleType, lambda_context: LambdaContext, unknown: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="expected an execution status change"):
        janitor.lambda_handler(unknown, lambda_context)
