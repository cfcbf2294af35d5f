"""Scaling suspend/resume, the janitor, and the deployment steps, with moto-backed adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from bluegreen.adapters.autoscaling import ScalableTargets
from bluegreen.adapters.codedeploy import ACTIVE, CodeDeployDeployments
from bluegreen.adapters.stepfunctions import TaskCallbacks
from bluegreen.adapters.store import StateTable
from bluegreen.domain.deployment import appspec
from bluegreen.domain.queue import queued_image
from bluegreen.errors import (
    ConfigurationInvalid,
    DeploymentFailed,
    DeploymentTimedOut,
    ResourceMissing,
    RollbackIncomplete,
    RollbackInProgress,
    ServiceLocked,
)
from bluegreen.models import DeploymentProgress, DeploymentState, RolloutProgress, Timings
from bluegreen.steps import deployment as steps
from bluegreen.steps.janitor import ROLLBACK_PATIENCE, clean_up
from bluegreen.steps.scaling import resume, suspend

from tests.unit.builders import (
    NOW,
    REGION,
    Aws,
    answer_deployment_configs,
    create_deployment_group,
    create_ecs_service,
    create_state_table,
    demo_service,
    digest,
    image,
    register_scalable_target,
    rendered,
    state,
    suspended_state,
)

SERVICE = demo_service()
ALL = {
    "DynamicScalingInSuspended": True,
    "DynamicScalingOutSuspended": True,
    "ScheduledScalingSuspended": True,
}
NONE = dict.fromkeys(ALL, False)
PARTLY = {**NONE, "ScheduledScalingSuspended": True}  # an operator paused scheduled actions


@dataclass
class Target:
    aws: Aws
    targets: ScalableTargets
    table: StateTable
    callbacks: TaskCallbacks

    def state(self) -> dict[str, bool] | None:
        return suspended_state(self.aws.client("application-autoscaling"), SERVICE)

    def resume(self, deployment: DeploymentState) -> DeploymentState:
        return resume(deployment, self.targets, self.table, self.callbacks, NOW)

    def owner(self) -> str | None:
        lock = self.table.lock(SERVICE.lock_key)
        return None if lock is None else str(lock["owner"])


@pytest.fixture
def target(aws: Aws) -> Target:
    create_ecs_service(aws.client("ecs"), SERVICE)
    ddb = aws.client("dynamodb")
    return Target(
        aws,
        ScalableTargets(aws.client("application-autoscaling")),
        StateTable(ddb, create_state_table(ddb)),
        TaskCallbacks(aws.client("stepfunctions")),
    )


def register(target: Target, suspended: dict[str, bool]) -> None:
    register_scalable_target(target.aws.client("application-autoscaling"), SERVICE, suspended)


DEPLOYMENT = rendered()
OTHER = rendered(state(image_ref=image(tag="4a5b6c7", image_digest=digest("build 2"))))


def janitor(
    target: Target, codedeploy: Any, waited: timedelta, deployment: DeploymentState = DEPLOYMENT
) -> list[str]:
    """The janitor's clean-up after ``deployment`` ended ``waited`` ago."""
    return clean_up(
        deployment, codedeploy, target.targets, target.table, waited, target.callbacks, NOW
    )


# --- suspend and resume -------------------------------------------------------------------


@pytest.mark.parametrize("prior", [NONE, PARTLY, ALL], ids=["free", "partly", "all"])
def test_suspend_then_resume_restores_exactly_the_prior_state(
    target: Target, prior: dict[str, bool]
) -> None:
    register(target, prior)

    suspended = suspend(DEPLOYMENT, target.targets, target.table, NOW)

    assert target.state() == ALL
    assert target.owner() == DEPLOYMENT.execution_name
    assert suspended.scaling is not None
    assert suspended.scaling.registered

    resumed = target.resume(suspended)

    assert target.state() == prior
    assert target.owner() is None
    assert resumed.scaling == suspended.scaling


def test_a_retried_suspend_keeps_the_first_snapshot(target: Target) -> None:
    register(target, PARTLY)
    first = suspend(DEPLOYMENT, target.targets, target.table, NOW)

    retried = suspend(DEPLOYMENT, target.targets, target.table, NOW + timedelta(seconds=4))

    assert retried.scaling == first.scaling  # not the all-suspended state it found
    target.resume(retried)
    assert target.state() == PARTLY


def test_resume_without_the_snapshot_in_the_state_uses_the_saved_one(target: Target) -> None:
    # SuspendScaling did its work but its result was lost (it failed after retries).
    register(target, PARTLY)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)

    target.resume(DEPLOYMENT)

    assert target.state() == PARTLY
    assert target.owner() is None


def test_a_second_deployment_of_a_locked_service_is_refused(target: Target) -> None:
    register(target, PARTLY)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)

    with pytest.raises(ServiceLocked, match=DEPLOYMENT.execution_name):
        suspend(OTHER, target.targets, target.table, NOW)

    assert target.owner() == DEPLOYMENT.execution_name
    target.resume(OTHER)  # the refused one cannot undo the other's work
    assert target.state() == ALL
    assert target.owner() == DEPLOYMENT.execution_name
    target.resume(DEPLOYMENT)
    assert target.state() == PARTLY


def test_an_unregistered_target_is_left_unregistered(target: Target) -> None:
    suspended = suspend(DEPLOYMENT, target.targets, target.table, NOW)

    assert suspended.scaling is not None
    assert not suspended.scaling.registered
    assert target.state() is None
    assert target.owner() == DEPLOYMENT.execution_name

    target.resume(suspended)

    assert target.state() is None
    assert target.owner() is None


def test_resume_is_safe_to_repeat(target: Target) -> None:
    register(target, NONE)
    suspended = suspend(DEPLOYMENT, target.targets, target.table, NOW)
    target.resume(suspended)

    target.resume(suspended)

    assert target.state() == NONE
    assert target.owner() is None


def test_a_late_resume_retry_leaves_the_next_deployments_suspension_alone(target: Target) -> None:
    register(target, NONE)
    first = suspend(DEPLOYMENT, target.targets, target.table, NOW)
    target.resume(first)
    suspend(OTHER, target.targets, target.table, NOW + timedelta(minutes=1))

    target.resume(first)  # a retry that arrives late, state in hand

    assert target.state() == ALL
    assert target.owner() == OTHER.execution_name


# --- CodeDeploy, as the steps see it -------------------------------------------------------


@dataclass
class Group:
    """The demo group's deployments, with the moves CodeDeploy makes on a stop: the deployment
    ends Stopped and CodeDeploy rolls it back with a deployment of its own, creator
    ``codeDeployRollback`` (moto's deployments stay Created and cannot be continued or
    stopped). The test sets every other status."""

    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    continued: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def add(
        self,
        deployment_id: str,
        status: str,
        *,
        description: str = f"bluegreen {DEPLOYMENT.execution_name}",
        creator: str = "user",
        **extra: Any,
    ) -> None:
        self.deployments[deployment_id] = {
            "deploymentId": deployment_id,
            "status": status,
            "description": description,
            "creator": creator,
            **extra,
        }

    def set(self, deployment_id: str, **changes: Any) -> None:
        self.deployments[deployment_id].update(changes)

    def group(self, application: str, group: str) -> dict[str, Any]:
        raise AssertionError("not used")

    def config(self, name: str) -> dict[str, Any]:
        raise AssertionError("not used")

    def create(self, *args: Any) -> str:
        raise AssertionError("not used")

    def get(self, deployment_id: str) -> dict[str, Any]:
        return dict(self.deployments[deployment_id])

    def active(self, application: str, group: str) -> list[str]:
        assert (application, group) == ("demo-web", "demo-web")
        return [i for i, d in self.deployments.items() if d["status"] in ACTIVE]

    def continue_to_production(self, deployment_id: str) -> None:
        assert self.deployments[deployment_id]["status"] == "Ready"
        self.continued.append(deployment_id)
        self.set(deployment_id, status="InProgress")

    def stop_and_roll_back(self, deployment_id: str) -> str:
        assert self.deployments[deployment_id]["status"] in ACTIVE
        self.stopped.append(deployment_id)
        rollback = f"{deployment_id}-RB"
        self.add(
            rollback,
            "InProgress",
            description=f"Rollback of deployment {deployment_id}",
            creator="codeDeployRollback",
        )
        self.set(deployment_id, status="Stopped", rollbackInfo={"rollbackDeploymentId": rollback})
        return "Pending: rollback in progress"


TERMINATION_WAIT = {"instanceTerminationWaitTimeStarted": True}
JUST_ENDED = timedelta(seconds=5)  # since the execution ended, at the janitor's first attempt


# --- janitor ------------------------------------------------------------------------------


def test_the_janitor_stops_what_an_aborted_execution_left_and_waits_for_the_rollback(
    target: Target,
) -> None:
    register(target, PARTLY)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)
    codedeploy = Group()
    codedeploy.add("d-ABC", "Ready")

    with pytest.raises(RollbackInProgress, match="CodeDeploy is rolling back with d-ABC-RB"):
        janitor(target, codedeploy, JUST_ENDED)

    assert codedeploy.stopped == ["d-ABC"]
    assert target.state() == ALL  # blue does not serve yet: scaling and the lock wait
    assert target.owner() == DEPLOYMENT.execution_name

    codedeploy.set("d-ABC-RB", status="Succeeded")
    a_minute_later = timedelta(minutes=1)  # Lambda's first retry of the event
    done = janitor(target, codedeploy, a_minute_later)

    assert codedeploy.stopped == ["d-ABC"]
    assert target.state() == PARTLY
    assert target.owner() is None
    assert done == ["scaling of service/demo/web restored", "lock of demo/web released"]


def test_the_janitor_leaves_codedeploys_own_rollback_alone(target: Target) -> None:
    register(target, NONE)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)
    codedeploy = Group()
    codedeploy.add("d-ABC", "Stopped", rollbackInfo={"rollbackDeploymentId": "d-RBK"})
    # Whatever description CodeDeploy gives its rollback, its creator says whose it is.
    codedeploy.add("d-RBK", "InProgress", creator="codeDeployRollback")

    with pytest.raises(RollbackInProgress, match="d-RBK"):
        janitor(target, codedeploy, JUST_ENDED)

    assert codedeploy.stopped == []
    assert target.state() == ALL
    assert target.owner() == DEPLOYMENT.execution_name


def test_the_janitors_last_attempt_restores_scaling_even_while_codedeploy_rolls_back(
    target: Target,
) -> None:
    """Lambda's last retry of the event comes some three minutes after the execution
    ended: a service left suspended could not scale out, so scaling comes back then."""
    register(target, NONE)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)
    codedeploy = Group()
    codedeploy.add("d-ABC", "Stopped", rollbackInfo={"rollbackDeploymentId": "d-RBK"})
    codedeploy.add("d-RBK", "InProgress", creator="codeDeployRollback")

    done = janitor(target, codedeploy, ROLLBACK_PATIENCE)

    assert codedeploy.stopped == []
    assert target.state() == NONE
    assert target.owner() is None
    assert done[0] == "CodeDeploy was still rolling back with d-RBK 120 s after the execution ended"


def test_the_janitor_leaves_a_live_release_alone(target: Target) -> None:
    register(target, NONE)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)
    codedeploy = Group()
    codedeploy.add("d-ABC", "InProgress", **TERMINATION_WAIT)

    done = janitor(target, codedeploy, JUST_ENDED)

    assert codedeploy.stopped == []
    assert target.state() == NONE
    assert target.owner() is None
    assert done[0] == (
        "left d-ABC alone: it is InProgress with production traffic on the new version"
    )


def test_the_janitor_stops_only_the_executions_own_deployment(target: Target) -> None:
    register(target, NONE)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)
    codedeploy = Group()
    codedeploy.add("d-HAND", "InProgress", description="started from the console")

    janitor(target, codedeploy, JUST_ENDED)

    assert codedeploy.stopped == []
    assert target.state() == NONE
    assert target.owner() is None


def test_the_janitor_leaves_another_executions_deployment_alone(target: Target) -> None:
    register(target, NONE)
    suspend(OTHER, target.targets, target.table, NOW)
    codedeploy = Group()
    codedeploy.add("d-OTHER", "Ready", description=f"bluegreen {OTHER.execution_name}")

    done = janitor(target, codedeploy, JUST_ENDED)

    assert codedeploy.stopped == []
    assert target.state() == ALL
    assert target.owner() == OTHER.execution_name
    assert done == [f"nothing to clean up: the lock of demo/web is held by {OTHER.execution_name}"]


def test_the_janitor_has_nothing_to_do_for_an_execution_that_never_locked(target: Target) -> None:
    register(target, NONE)
    codedeploy = Group()
    codedeploy.add("d-SOMEONE", "Ready", description="someone else's")

    done = janitor(target, codedeploy, JUST_ENDED)

    assert codedeploy.stopped == []
    assert target.state() == NONE
    assert done == ["nothing to clean up: the lock of demo/web is held by nobody"]


def test_the_janitor_takes_an_execution_that_ended_waiting_off_the_queue(target: Target) -> None:
    """Rejected, expired or stopped before its turn: its image must not outrank older ones."""
    target.table.admit(SERVICE.lock_key, queued_image(DEPLOYMENT))

    done = janitor(target, Group(), JUST_ENDED)

    assert done == [f"{DEPLOYMENT.execution_name} no longer waits to deploy demo/web"]
    assert "waiting" not in target.table.queue(SERVICE.lock_key)


class NoCodeDeploy:
    """A rolling environment has no CodeDeploy: any call to it is a mistake."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"CodeDeploy {name} called for a rolling environment")


ROLLING = rendered(state(demo_service(method="rolling", approvers=[])))


def test_the_janitor_releases_a_rolling_executions_lock_without_codedeploy_or_scaling(
    target: Target,
) -> None:
    """An aborted rolling deployment left ECS its own deployment (its circuit breaker rolls
    back a failing one): the janitor releases the lock, touches neither CodeDeploy nor the
    service's scaling."""
    register(target, PARTLY)
    target.table.acquire_lock(SERVICE.lock_key, ROLLING.execution_name, NOW)

    done = clean_up(
        ROLLING, NoCodeDeploy(), target.targets, target.table, JUST_ENDED, target.callbacks, NOW
    )

    assert target.owner() is None
    assert target.state() == PARTLY
    assert done == ["lock of demo/web released (rolling: ECS finishes its deployment)"]


def test_a_completed_rollout_releases_the_lock_as_deployed_with_no_scaling_saved(
    target: Target,
) -> None:
    """Rolling suspends no scaling: the release works from the lock alone, and records the
    image as what the service runs."""
    register(target, PARTLY)
    target.table.admit(SERVICE.lock_key, queued_image(ROLLING))
    target.table.take_turn(SERVICE.lock_key, queued_image(ROLLING), "token", NOW)
    rollout = RolloutProgress(
        deployment_id="ecs-svc/1",
        task_definition="web:2",
        previous_task_definition="web:1",
        rollout_state="COMPLETED",
        completed=True,
    )

    released = target.resume(ROLLING.model_copy(update={"rollout": rollout}))

    assert released.scaling is None
    assert target.owner() is None
    assert target.state() == PARTLY
    running = target.table.service_queue(SERVICE.lock_key).running
    assert running is not None
    assert running.digest == ROLLING.image.digest


@pytest.mark.parametrize(
    "prior",
    [NONE, PARTLY, {"DynamicScalingInSuspended": True}, None],
    ids=["free", "partly", "one-flag-shown", "no-state-shown"],
)
def test_every_register_scalable_target_the_app_sends_names_all_three_flags(
    target: Target, prior: dict[str, bool] | None
) -> None:
    """Application Auto Scaling documents no merge for a partial SuspendedState (moto
    replaces the whole object): the app never sends one, whatever the target showed."""
    aas = target.aws.client("application-autoscaling")
    if prior is None:
        register_scalable_target(aas, SERVICE)
    else:
        register_scalable_target(aas, SERVICE, prior)
    client = boto3.client("application-autoscaling", region_name=REGION)
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-parameter-build.application-auto-scaling.RegisterScalableTarget",
        lambda params, **_: sent.append(dict(params)),
    )
    targets = ScalableTargets(client)
    codedeploy = Group()

    suspended = suspend(DEPLOYMENT, targets, target.table, NOW)
    resume(suspended, targets, target.table, target.callbacks, NOW)
    suspend(OTHER, targets, target.table, NOW)
    clean_up(OTHER, codedeploy, targets, target.table, JUST_ENDED, target.callbacks, NOW)

    assert len(sent) == 4
    for params in sent:
        assert set(params["SuspendedState"]) == set(ALL), params
        assert set(params) == {
            "ServiceNamespace",
            "ResourceId",
            "ScalableDimension",
            "SuspendedState",
        }


# --- deployments --------------------------------------------------------------------------


@pytest.fixture
def codedeploy(aws: Aws) -> Any:
    client = aws.client("codedeploy")
    answer_deployment_configs(client)
    return client


def test_create_starts_a_deployment_of_the_rendered_revision(codedeploy: Any) -> None:
    create_deployment_group(codedeploy, SERVICE)

    created = steps.create(DEPLOYMENT, CodeDeployDeployments(codedeploy), NOW)

    assert created.deployment is not None
    assert created.deployment.created_at == NOW
    assert created.deployment.polls == 0
    info = codedeploy.get_deployment(deploymentId=created.deployment.deployment_id)[
        "deploymentInfo"
    ]
    content, sha256 = appspec(SERVICE, DEPLOYMENT.render.task_definition)  # type: ignore[union-attr]
    assert info["revision"]["appSpecContent"] == {"content": content, "sha256": sha256}
    assert DEPLOYMENT.execution_name in info["description"]


def test_a_retried_create_finds_the_deployment_it_started(codedeploy: Any) -> None:
    """The first attempt's answer was lost (a Lambda timeout): the retry must not start a
    second deployment, which CodeDeploy would refuse (one active per group) anyway."""
    create_deployment_group(codedeploy, SERVICE)
    first = steps.create(DEPLOYMENT, CodeDeployDeployments(codedeploy), NOW)

    retried = steps.create(DEPLOYMENT, CodeDeployDeployments(codedeploy), NOW)

    assert first.deployment is not None
    assert retried.deployment is not None
    assert retried.deployment.deployment_id == first.deployment.deployment_id
    listed = codedeploy.list_deployments(applicationName="demo-web", deploymentGroupName="demo-web")
    assert listed["deployments"] == [first.deployment.deployment_id]


@pytest.mark.parametrize(
    ("config", "shift_minutes"),
    [
        (None, 0),  # the group's CodeDeployDefault.ECSAllAtOnce
        ("CodeDeployDefault.ECSCanary10Percent15Minutes", 15),
        ("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", 27),
    ],
)
def test_create_derives_the_completion_budget_from_the_group_and_its_config(
    codedeploy: Any, config: str | None, shift_minutes: int
) -> None:
    create_deployment_group(codedeploy, SERVICE)  # a 5 minute termination wait
    service = demo_service(deployment_config=config)
    deploying_with = DEPLOYMENT.model_copy(update={"service": service})

    created = steps.create(deploying_with, CodeDeployDeployments(codedeploy), NOW)

    assert created.deployment is not None
    polls = service.timings.deployment_poll_seconds * service.timings.deployment_max_polls
    assert created.deployment.completion_budget_seconds == (shift_minutes + 5) * 60 + polls


@pytest.mark.parametrize("action", ["CONTINUE_DEPLOYMENT", None])
def test_create_refuses_a_group_that_would_not_wait_for_the_test(
    codedeploy: Any, action: str | None
) -> None:
    create_deployment_group(codedeploy, SERVICE, action_on_timeout=action)

    with pytest.raises(ConfigurationInvalid, match="STOP_DEPLOYMENT"):
        steps.create(DEPLOYMENT, CodeDeployDeployments(codedeploy), NOW)

    listed = codedeploy.list_deployments(applicationName="demo-web", deploymentGroupName="demo-web")
    assert listed["deployments"] == []


def test_create_for_a_missing_group_is_a_missing_resource(codedeploy: Any) -> None:
    with pytest.raises(ResourceMissing):
        steps.create(DEPLOYMENT, CodeDeployDeployments(codedeploy), NOW)


def test_a_created_deployment_is_not_ready_yet(codedeploy: Any) -> None:
    create_deployment_group(codedeploy, SERVICE)
    created = steps.create(DEPLOYMENT, CodeDeployDeployments(codedeploy), NOW)

    checked = steps.check(created, CodeDeployDeployments(codedeploy), NOW + timedelta(seconds=15))

    assert checked.deployment is not None
    assert (checked.deployment.status, checked.deployment.polls) == ("Created", 1)
    assert not checked.deployment.ready
    assert checked.deployment.ready_at is None


def deploying(max_polls: int = 10, ready: bool = False) -> DeploymentState:
    service = demo_service(timings=Timings(deployment_max_polls=max_polls))
    progress = DeploymentProgress(deployment_id="d-ABC", created_at=NOW, ready=ready)
    return rendered(state(service=service)).model_copy(update={"deployment": progress})


def test_the_whole_life_of_a_deployment_through_check_and_proceed() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "InProgress")
    at = [NOW + timedelta(seconds=15 * i) for i in range(6)]

    current = steps.check(deploying(), codedeploy, at[0])
    codedeploy.set("d-ABC", status="Ready")
    current = steps.check(current, codedeploy, at[1])
    assert current.deployment is not None
    assert current.deployment.ready_at == at[1]
    current = steps.check(current, codedeploy, at[2])  # still Ready: first time kept
    assert current.deployment is not None
    assert current.deployment.ready_at == at[1]
    assert current.deployment.polls == 3

    current = steps.proceed(current, codedeploy, at[3])
    assert codedeploy.continued == ["d-ABC"]
    assert current.deployment is not None
    assert (current.deployment.polls, current.deployment.continued_at) == (0, at[3])
    assert current.deployment.wait_seconds == current.service.timings.deployment_poll_seconds

    current = steps.check(current, codedeploy, at[4])
    assert current.deployment is not None
    assert not current.deployment.succeeded
    codedeploy.set("d-ABC", status="Succeeded")
    current = steps.check(current, codedeploy, at[5])
    assert current.deployment is not None
    assert current.deployment.succeeded
    assert current.deployment.finished_at == at[5]


def test_a_retried_continue_continues_once() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "Ready")
    ready = deploying(ready=True)
    steps.proceed(ready, codedeploy, NOW)

    retried = steps.proceed(ready, codedeploy, NOW + timedelta(seconds=20))  # answer lost

    assert codedeploy.continued == ["d-ABC"]
    assert retried.deployment is not None
    assert retried.deployment.continued_at == NOW + timedelta(seconds=20)


def test_continue_of_a_deployment_that_stopped_meanwhile_fails() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "Stopped")  # its ready wait timed out

    with pytest.raises(DeploymentFailed, match="d-ABC is Stopped, not Ready"):
        steps.proceed(deploying(ready=True), codedeploy, NOW)

    assert codedeploy.continued == []


def test_check_gives_up_after_the_services_poll_budget() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "InProgress")
    current = steps.check(deploying(max_polls=2), codedeploy, NOW)

    with pytest.raises(DeploymentTimedOut):
        steps.check(current, codedeploy, NOW)


def test_check_reports_a_stopped_deployment() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "Stopped")

    with pytest.raises(DeploymentFailed, match="Stopped"):
        steps.check(deploying(), codedeploy, NOW)


# --- rollback -----------------------------------------------------------------------------


def test_roll_back_stops_a_running_deployment_then_watches_codedeploys_rollback() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "Ready")

    rolling = steps.roll_back(deploying(), codedeploy, NOW)

    assert codedeploy.stopped == ["d-ABC"]
    assert rolling.rollback is not None
    assert rolling.rollback.deployment_stopped
    assert "d-ABC stopped with rollback (Pending: rollback in progress)" in rolling.rollback.detail
    assert rolling.rollback.rollback_deployment_id == "d-ABC-RB"
    assert (rolling.rollback.status, rolling.rollback.finished) == ("InProgress", False)

    codedeploy.set("d-ABC-RB", status="Succeeded")
    done = steps.roll_back(rolling, codedeploy, NOW + timedelta(seconds=15))

    assert codedeploy.stopped == ["d-ABC"]
    assert done.rollback is not None
    assert done.rollback.finished
    assert done.rollback.finished_at == NOW + timedelta(seconds=15)
    assert done.rollback.checks == 2


def test_a_retried_roll_back_stops_nothing_twice() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "Ready")
    steps.roll_back(deploying(), codedeploy, NOW)

    retried = steps.roll_back(deploying(), codedeploy, NOW)  # the first answer was lost

    assert codedeploy.stopped == ["d-ABC"]
    assert retried.rollback is not None
    assert retried.rollback.rollback_deployment_id == "d-ABC-RB"
    assert not retried.rollback.finished


def test_roll_back_waits_for_the_rollback_codedeploy_started_itself() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "Stopped", rollbackInfo={"rollbackDeploymentId": "d-RBK"})
    codedeploy.add("d-RBK", "InProgress", creator="codeDeployRollback")

    rolling = steps.roll_back(deploying(), codedeploy, NOW)

    assert codedeploy.stopped == []
    assert rolling.rollback is not None
    assert not rolling.rollback.deployment_stopped
    assert (rolling.rollback.rollback_deployment_id, rolling.rollback.finished) == ("d-RBK", False)


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_roll_back_leaves_an_ended_deployment_alone(status: str) -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", status)

    rolled = steps.roll_back(deploying(), codedeploy, NOW)

    assert codedeploy.stopped == []
    assert rolled.rollback is not None
    assert not rolled.rollback.deployment_stopped
    assert rolled.rollback.finished
    assert status in rolled.rollback.detail


def test_a_rollback_that_failed_is_incomplete() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "Ready")
    rolling = steps.roll_back(deploying(), codedeploy, NOW)
    codedeploy.set("d-ABC-RB", status="Failed", errorInformation={"code": "ECS_UPDATE_ERROR"})

    with pytest.raises(RollbackIncomplete, match="d-ABC-RB of deployment d-ABC ended Failed"):
        steps.roll_back(rolling, codedeploy, NOW)


@pytest.mark.parametrize(
    "live",
    [{"status": "InProgress", **TERMINATION_WAIT}, {"status": "Baking"}],
    ids=["termination-wait", "baking"],
)
def test_a_failure_of_ours_never_rolls_back_a_live_release(live: dict[str, Any]) -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", **live)

    left = steps.roll_back(deploying(), codedeploy, NOW)

    assert codedeploy.stopped == []
    assert left.rollback is not None
    assert left.rollback.release_live
    assert left.rollback.finished
    assert not left.rollback.deployment_stopped
    assert left.rollback.detail.startswith("not rolled back: deployment d-ABC is ")
    assert left.deployment is not None
    assert left.deployment.traffic_shifted
    assert not left.deployment.succeeded


def test_a_release_that_succeeded_is_not_rolled_back_and_is_recorded_as_succeeded() -> None:
    codedeploy = Group()
    codedeploy.add("d-ABC", "Succeeded")

    left = steps.roll_back(deploying(), codedeploy, NOW)

    assert codedeploy.stopped == []
    assert left.rollback is not None
    assert left.rollback.release_live
    assert left.deployment is not None
    assert left.deployment.succeeded
    assert left.deployment.finished_at == NOW


def test_roll_back_before_any_deployment_has_nothing_to_stop() -> None:
    rolled = steps.roll_back(DEPLOYMENT, Group(), NOW)

    assert rolled.rollback is not None
    assert rolled.rollback.detail == "no deployment was created"
    assert rolled.rollback.finished


def test_roll_back_finds_a_deployment_whose_create_response_was_lost() -> None:
    # CreateDeployment succeeded but its answer never reached the state; the retry then
    # met DeploymentAlreadyActive. Our deployment waits in Ready: it must be stopped.
    codedeploy = Group()
    codedeploy.add("d-OTHER", "Ready", description="bluegreen another-execution")
    codedeploy.add("d-OURS", "Ready")

    rolled = steps.roll_back(DEPLOYMENT, codedeploy, NOW)

    assert codedeploy.stopped == ["d-OURS"]
    assert rolled.rollback is not None
    assert rolled.rollback.deployment_stopped


def test_codedeploys_rollback_is_never_taken_for_our_deployment() -> None:
    codedeploy = Group()
    codedeploy.add("d-RBK", "InProgress", creator="codeDeployRollback")  # same description

    rolled = steps.roll_back(DEPLOYMENT, codedeploy, NOW)

    assert codedeploy.stopped == []
    assert rolled.rollback is not None
    assert rolled.rollback.detail == "no deployment was created"
