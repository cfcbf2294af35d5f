"""Scaling suspend/resume, the janitor, and the deployment steps, with moto-backed adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from bluegreen.adapters.autoscaling import ScalableTargets
from bluegreen.adapters.codedeploy import CodeDeployDeployments
from bluegreen.adapters.store import StateTable
from bluegreen.domain.deployment import appspec
from bluegreen.errors import (
    ConfigurationInvalid,
    DeploymentFailed,
    DeploymentTimedOut,
    ResourceMissing,
    ServiceLocked,
)
from bluegreen.models import DeploymentProgress, DeploymentState, Timings
from bluegreen.steps import deployment as steps
from bluegreen.steps.janitor import clean_up
from bluegreen.steps.scaling import resume, suspend

from tests.unit.builders import (
    NOW,
    REGION,
    Aws,
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

    def state(self) -> dict[str, bool] | None:
        return suspended_state(self.aws.client("application-autoscaling"), SERVICE)

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
    )


def register(target: Target, suspended: dict[str, bool]) -> None:
    register_scalable_target(target.aws.client("application-autoscaling"), SERVICE, suspended)


DEPLOYMENT = rendered()
OTHER = rendered(state(image_ref=image(tag="4a5b6c7", image_digest=digest("build 2"))))


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

    resumed = resume(suspended, target.targets, target.table)

    assert target.state() == prior
    assert target.owner() is None
    assert resumed.scaling == suspended.scaling


def test_a_retried_suspend_keeps_the_first_snapshot(target: Target) -> None:
    register(target, PARTLY)
    first = suspend(DEPLOYMENT, target.targets, target.table, NOW)

    retried = suspend(DEPLOYMENT, target.targets, target.table, NOW + timedelta(seconds=4))

    assert retried.scaling == first.scaling  # not the all-suspended state it found
    resume(retried, target.targets, target.table)
    assert target.state() == PARTLY


def test_resume_without_the_snapshot_in_the_state_uses_the_saved_one(target: Target) -> None:
    # SuspendScaling did its work but its result was lost (it failed after retries).
    register(target, PARTLY)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)

    resume(DEPLOYMENT, target.targets, target.table)

    assert target.state() == PARTLY
    assert target.owner() is None


def test_a_second_deployment_of_a_locked_service_is_refused(target: Target) -> None:
    register(target, PARTLY)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)

    with pytest.raises(ServiceLocked, match=DEPLOYMENT.execution_name):
        suspend(OTHER, target.targets, target.table, NOW)

    assert target.owner() == DEPLOYMENT.execution_name
    resume(OTHER, target.targets, target.table)  # the refused one cannot undo the other's work
    assert target.state() == ALL
    assert target.owner() == DEPLOYMENT.execution_name
    resume(DEPLOYMENT, target.targets, target.table)
    assert target.state() == PARTLY


def test_an_unregistered_target_is_left_unregistered(target: Target) -> None:
    suspended = suspend(DEPLOYMENT, target.targets, target.table, NOW)

    assert suspended.scaling is not None
    assert not suspended.scaling.registered
    assert target.state() is None
    assert target.owner() == DEPLOYMENT.execution_name

    resume(suspended, target.targets, target.table)

    assert target.state() is None
    assert target.owner() is None


def test_resume_is_safe_to_repeat(target: Target) -> None:
    register(target, NONE)
    suspended = suspend(DEPLOYMENT, target.targets, target.table, NOW)
    resume(suspended, target.targets, target.table)

    resume(suspended, target.targets, target.table)

    assert target.state() == NONE
    assert target.owner() is None


def test_a_late_resume_retry_leaves_the_next_deployments_suspension_alone(target: Target) -> None:
    register(target, NONE)
    first = suspend(DEPLOYMENT, target.targets, target.table, NOW)
    resume(first, target.targets, target.table)
    suspend(OTHER, target.targets, target.table, NOW + timedelta(minutes=1))

    resume(first, target.targets, target.table)  # a retry that arrives late, state in hand

    assert target.state() == ALL
    assert target.owner() == OTHER.execution_name


# --- janitor ------------------------------------------------------------------------------


@dataclass
class LeftRunning:
    """CodeDeploy as the janitor sees it (moto cannot stop deployments)."""

    running: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def active(self, application: str, group: str) -> list[str]:
        assert (application, group) == ("demo-web", "demo-web")
        return [d for d in self.running if d not in self.stopped]

    def stop_and_roll_back(self, deployment_id: str) -> str:
        self.stopped.append(deployment_id)
        return "Pending: Stopping"


def test_the_janitor_undoes_what_an_aborted_execution_left_behind(target: Target) -> None:
    register(target, PARTLY)
    suspend(DEPLOYMENT, target.targets, target.table, NOW)
    codedeploy = LeftRunning(running=["d-ABC"])

    done = clean_up(DEPLOYMENT, codedeploy, target.targets, target.table)

    assert codedeploy.stopped == ["d-ABC"]
    assert target.state() == PARTLY
    assert target.owner() is None
    assert done == [
        "stopped d-ABC: Pending: Stopping",
        "scaling of service/demo/web restored",
        "lock of demo/web released",
    ]


def test_the_janitor_leaves_another_executions_deployment_alone(target: Target) -> None:
    register(target, NONE)
    suspend(OTHER, target.targets, target.table, NOW)
    codedeploy = LeftRunning(running=["d-OTHER"])

    done = clean_up(DEPLOYMENT, codedeploy, target.targets, target.table)

    assert codedeploy.stopped == []
    assert target.state() == ALL
    assert target.owner() == OTHER.execution_name
    assert done == [f"nothing to clean up: the lock of demo/web is held by {OTHER.execution_name}"]


def test_the_janitor_has_nothing_to_do_for_an_execution_that_never_locked(target: Target) -> None:
    register(target, NONE)
    codedeploy = LeftRunning(running=["d-SOMEONE"])

    done = clean_up(DEPLOYMENT, codedeploy, target.targets, target.table)

    assert codedeploy.stopped == []
    assert target.state() == NONE
    assert done == ["nothing to clean up: the lock of demo/web is held by nobody"]


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
    codedeploy = LeftRunning(running=[])

    suspended = suspend(DEPLOYMENT, targets, target.table, NOW)
    resume(suspended, targets, target.table)
    suspend(OTHER, targets, target.table, NOW)
    clean_up(OTHER, codedeploy, targets, target.table)

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
    return aws.client("codedeploy")


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


@dataclass
class Scripted:
    """A deployment whose statuses the test decides (moto's stay Created forever)."""

    statuses: list[str]
    continued: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    running: dict[str, str] = field(default_factory=dict)  # active id -> its description

    def group(self, application: str, group: str) -> dict[str, Any]:
        raise AssertionError("not used")

    def create(self, *args: Any) -> str:
        raise AssertionError("not used")

    def get(self, deployment_id: str) -> dict[str, Any]:
        description = self.running.get(deployment_id, "")
        return {
            "deploymentId": deployment_id,
            "status": self.statuses.pop(0),
            "description": description,
        }

    def active(self, application: str, group: str) -> list[str]:
        return list(self.running)

    def continue_to_production(self, deployment_id: str) -> None:
        self.continued.append(deployment_id)

    def stop_and_roll_back(self, deployment_id: str) -> str:
        self.stopped.append(deployment_id)
        return "Pending: Stopping deployment"


def deploying(max_polls: int = 10) -> DeploymentState:
    service = demo_service(timings=Timings(deployment_max_polls=max_polls))
    return rendered(state(service=service)).model_copy(
        update={"deployment": DeploymentProgress(deployment_id="d-ABC", created_at=NOW)}
    )


def test_the_whole_life_of_a_deployment_through_check_and_proceed() -> None:
    codedeploy = Scripted(["InProgress", "Ready", "Ready", "InProgress", "Succeeded"])
    at = [NOW + timedelta(seconds=15 * i) for i in range(6)]

    current = steps.check(deploying(), codedeploy, at[0])
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

    current = steps.check(current, codedeploy, at[4])
    assert current.deployment is not None
    assert not current.deployment.succeeded
    current = steps.check(current, codedeploy, at[5])
    assert current.deployment is not None
    assert current.deployment.succeeded
    assert current.deployment.finished_at == at[5]


def test_check_gives_up_after_the_services_poll_budget() -> None:
    codedeploy = Scripted(["InProgress", "InProgress"])
    current = steps.check(deploying(max_polls=2), codedeploy, NOW)

    with pytest.raises(DeploymentTimedOut):
        steps.check(current, codedeploy, NOW)


def test_check_reports_a_stopped_deployment() -> None:
    with pytest.raises(DeploymentFailed, match="Stopped"):
        steps.check(deploying(), Scripted(["Stopped"]), NOW)


def test_roll_back_stops_a_running_deployment() -> None:
    codedeploy = Scripted(["Ready"])

    rolled = steps.roll_back(deploying(), codedeploy, NOW)

    assert codedeploy.stopped == ["d-ABC"]
    assert rolled.rollback is not None
    assert rolled.rollback.deployment_stopped
    assert "d-ABC stopped with rollback (Pending: Stopping deployment)" in rolled.rollback.detail


@pytest.mark.parametrize("status", ["Succeeded", "Failed", "Stopped"])
def test_roll_back_leaves_an_ended_deployment_alone(status: str) -> None:
    codedeploy = Scripted([status])

    rolled = steps.roll_back(deploying(), codedeploy, NOW)

    assert codedeploy.stopped == []
    assert rolled.rollback is not None
    assert not rolled.rollback.deployment_stopped
    assert status in rolled.rollback.detail


def test_roll_back_before_any_deployment_has_nothing_to_stop() -> None:
    codedeploy = Scripted([])

    rolled = steps.roll_back(DEPLOYMENT, codedeploy, NOW)

    assert codedeploy.stopped == []
    assert rolled.rollback is not None
    assert rolled.rollback.detail == "no deployment was created"


def test_roll_back_finds_a_deployment_whose_create_response_was_lost() -> None:
    # CreateDeployment succeeded but its answer never reached the state; the retry then
    # met DeploymentAlreadyActive. Our deployment waits in Ready: it must be stopped.
    codedeploy = Scripted(
        ["Ready", "Ready", "Ready"],
        running={
            "d-OTHER": "bluegreen another-execution",
            "d-OURS": f"bluegreen {DEPLOYMENT.execution_name}",
        },
    )

    rolled = steps.roll_back(DEPLOYMENT, codedeploy, NOW)

    assert codedeploy.stopped == ["d-OURS"]
    assert rolled.rollback is not None
    assert rolled.rollback.deployment_stopped
