"""Local ECS rolling deployments (the ``ECS`` deployment controller), seen through the ECS API.

Each test names the ECS behaviour it reproduces. Time is the fake clock's: nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from bluegreen_cli.local.ecs_rollouts import (
    DEFAULT_DEPLOYMENT_CONFIGURATION,
    TASKS_FAILED_TO_START,
    EcsRollouts,
    RolloutTiming,
    breaker_threshold,
    completed_reason,
    in_progress_reason,
    rolling_back_reason,
)
from moto.moto_api import _internal as moto_api

from tests.unit.local.harness import ACCOUNT, REGION, FakeClock, LocalAws

TIMING = RolloutTiming()
BREAKER_WITH_ROLLBACK = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
DEV_ACCOUNT = "111111111111"


@pytest.fixture
def rollouts(local_aws: LocalAws, clock: FakeClock) -> Iterator[EcsRollouts]:
    moto_api.moto_api_backend.reset()
    emulator = EcsRollouts(TIMING, clock=clock)
    local_aws.rollouts = emulator
    yield emulator
    local_aws.rollouts = None


class Service:
    """One rolling service of the local ECS, driven through the API and the fake clock."""

    def __init__(
        self, ecs: Any, rollouts: EcsRollouts, clock: FakeClock, cluster: str = "rolling"
    ) -> None:
        self.ecs, self.rollouts, self.clock, self.cluster = ecs, rollouts, clock, cluster
        self.revisions: list[str] = []

    def register(self) -> str:
        arn = str(
            self.ecs.register_task_definition(
                family=f"{self.cluster}-web",
                containerDefinitions=[
                    {"name": "web", "image": f"web:{len(self.revisions) + 1}", "memory": 128}
                ],
            )["taskDefinition"]["taskDefinitionArn"]
        )
        self.revisions.append(arn)
        return arn

    def create(self, desired: int = 1, **options: Any) -> dict[str, Any]:
        self.ecs.create_cluster(clusterName=self.cluster)
        created: dict[str, Any] = self.ecs.create_service(
            cluster=self.cluster,
            serviceName="web",
            taskDefinition=self.register(),
            desiredCount=desired,
            **options,
        )["service"]
        return created

    def update(self, **changes: Any) -> dict[str, Any]:
        updated: dict[str, Any] = self.ecs.update_service(
            cluster=self.cluster, service="web", **changes
        )["service"]
        return updated

    def described(self) -> dict[str, Any]:
        (found,) = self.ecs.describe_services(cluster=self.cluster, services=["web"])["services"]
        return dict(found)

    def deployments(self) -> list[tuple[str, str, str]]:
        """(status, rolloutState, task definition) of each deployment, as ECS lists them."""
        return [
            (d["status"], d["rolloutState"], d["taskDefinition"])
            for d in self.described()["deployments"]
        ]

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.rollouts.tick()

    def settle(self) -> None:
        """Long enough for any deployment, its rollback included, to end."""
        for _ in range(60):
            self.wait(0.5)


@pytest.fixture
def service(clients: dict[str, Any], rollouts: EcsRollouts, clock: FakeClock) -> Service:
    return Service(clients["ecs"], rollouts, clock)


def test_breaker_threshold_is_half_the_desired_count_between_3_and_200() -> None:
    """ECS ServiceDeploymentCircuitBreaker: threshold 0.5 x desired count, min 3, max 200."""
    assert [breaker_threshold(n) for n in (1, 6, 7, 10, 400, 1000)] == [3, 3, 4, 5, 200, 200]


def test_create_service_reports_ecs_default_deployment_configuration(service: Service) -> None:
    """ECS DescribeServices: an ECS-controller service created without a deploymentConfiguration
    reports the defaults (maximumPercent 200, minimumHealthyPercent 100, breaker off)."""
    created = service.create()

    assert created["deploymentConfiguration"] == DEFAULT_DEPLOYMENT_CONFIGURATION
    assert service.described()["deploymentConfiguration"] == DEFAULT_DEPLOYMENT_CONFIGURATION


def test_create_service_keeps_its_circuit_breaker(service: Service) -> None:
    """ECS CreateService: the deployment circuit breaker given is the service's."""
    service.create(deploymentConfiguration=BREAKER_WITH_ROLLBACK)

    configuration = service.described()["deploymentConfiguration"]
    assert configuration["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert configuration["maximumPercent"] == 200


def test_a_new_service_runs_its_tasks_and_its_deployment_completes(service: Service) -> None:
    """ECS rolling update: a service's first deployment is COMPLETED once its tasks run."""
    created = service.create(desired=2)
    (first,) = created["deployments"]
    assert (first["rolloutState"], first["runningCount"], first["pendingCount"]) == (
        "IN_PROGRESS",
        0,
        2,
    )

    service.settle()

    described = service.described()
    (done,) = described["deployments"]
    assert done["rolloutState"] == "COMPLETED"
    assert done["rolloutStateReason"] == completed_reason(done["id"])
    assert (done["runningCount"], done["pendingCount"]) == (2, 0)
    assert (described["runningCount"], described["pendingCount"]) == (2, 0)


def test_update_service_rolls_out_a_new_primary_deployment_until_completed(
    service: Service,
) -> None:
    """ECS rolling update: UpdateService with a new task definition creates a PRIMARY
    deployment IN_PROGRESS and makes the previous one ACTIVE; once the new tasks run and the
    old are drained, only the new deployment is left, COMPLETED."""
    service.create(deploymentConfiguration=BREAKER_WITH_ROLLBACK)
    service.settle()
    old = service.revisions[0]
    new = service.register()

    updated = service.update(taskDefinition=new)

    new_deployment, old_deployment = updated["deployments"]
    assert updated["taskDefinition"] == new
    assert (new_deployment["status"], new_deployment["rolloutState"]) == ("PRIMARY", "IN_PROGRESS")
    assert new_deployment["rolloutStateReason"] == in_progress_reason(new_deployment["id"])
    assert new_deployment["id"].startswith("ecs-svc/")
    assert (new_deployment["runningCount"], new_deployment["pendingCount"]) == (0, 1)
    assert (old_deployment["status"], old_deployment["taskDefinition"]) == ("ACTIVE", old)
    assert old_deployment["runningCount"] == 1

    service.wait(TIMING.task_start_seconds)
    assert service.deployments() == [
        ("PRIMARY", "IN_PROGRESS", new),
        ("ACTIVE", "COMPLETED", old),
    ]
    assert service.described()["runningCount"] == 2  # both, until the old are drained

    service.wait(TIMING.drain_seconds)
    assert service.deployments() == [("PRIMARY", "COMPLETED", new)]
    (done,) = service.described()["deployments"]
    assert done["id"] == new_deployment["id"]
    assert done["rolloutStateReason"] == completed_reason(done["id"])


def test_the_same_task_definition_starts_no_deployment_unless_forced(service: Service) -> None:
    """ECS UpdateService: no change, no new deployment; forceNewDeployment starts one with the
    same task definition."""
    service.create()
    service.settle()
    (before,) = service.described()["deployments"]

    unchanged = service.update(taskDefinition=service.revisions[0])
    assert [d["id"] for d in unchanged["deployments"]] == [before["id"]]

    forced = service.update(forceNewDeployment=True)
    assert [d["status"] for d in forced["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert forced["deployments"][0]["id"] != before["id"]
    assert forced["deployments"][0]["taskDefinition"] == service.revisions[0]


def test_scaling_a_service_changes_its_primary_deployment_only(service: Service) -> None:
    """ECS UpdateService: a new desired count starts no deployment."""
    service.create()
    service.settle()

    scaled = service.update(desiredCount=3)

    (deployment,) = scaled["deployments"]
    assert (deployment["desiredCount"], deployment["runningCount"]) == (3, 3)
    assert scaled["runningCount"] == 3


def test_circuit_breaker_fails_the_deployment_and_rolls_back_to_the_last_completed(
    service: Service,
) -> None:
    """ECS deployment circuit breaker with rollback: tasks that fail to start make the
    deployment FAILED ("ECS deployment circuit breaker: tasks failed to start.") at the
    threshold, and the last COMPLETED deployment becomes PRIMARY again, "rolling back to
    deploymentId ...", until it is COMPLETED and the failed deployment is gone."""
    service.create(deploymentConfiguration=BREAKER_WITH_ROLLBACK)
    service.settle()
    (completed,) = service.described()["deployments"]
    old, new = service.revisions[0], service.register()
    service.rollouts.fail_new_tasks(ACCOUNT, REGION, "rolling", "web")

    service.update(taskDefinition=new)
    service.wait(TIMING.task_failure_seconds)
    failing = service.described()["deployments"][0]
    assert (failing["rolloutState"], failing["failedTasks"], failing["runningCount"]) == (
        "IN_PROGRESS",
        1,
        0,
    )

    service.wait(TIMING.task_failure_seconds * (breaker_threshold(1) - 1))
    described = service.described()
    back, failed = described["deployments"]
    assert (failed["status"], failed["rolloutState"], failed["taskDefinition"]) == (
        "ACTIVE",
        "FAILED",
        new,
    )
    assert failed["rolloutStateReason"] == TASKS_FAILED_TO_START
    assert failed["failedTasks"] == breaker_threshold(1)
    assert (back["status"], back["rolloutState"], back["taskDefinition"]) == (
        "PRIMARY",
        "IN_PROGRESS",
        old,
    )
    assert back["id"] == completed["id"]
    assert back["rolloutStateReason"] == rolling_back_reason(completed["id"])
    assert described["taskDefinition"] == old

    service.wait(TIMING.rollback_seconds)
    assert service.deployments() == [("PRIMARY", "COMPLETED", old)]
    assert service.described()["runningCount"] == 1


def test_circuit_breaker_without_rollback_leaves_the_failed_deployment_primary(
    service: Service,
) -> None:
    """ECS deployment circuit breaker, rollback off: the deployment is FAILED and stops
    launching tasks; the previous deployment keeps running, nothing is rolled back."""
    service.create(
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    )
    service.settle()
    old, new = service.revisions[0], service.register()
    service.rollouts.fail_new_tasks(ACCOUNT, REGION, "rolling", "web")

    service.update(taskDefinition=new)
    service.settle()

    assert service.deployments() == [
        ("PRIMARY", "FAILED", new),
        ("ACTIVE", "COMPLETED", old),
    ]
    assert service.described()["deployments"][0]["rolloutStateReason"] == TASKS_FAILED_TO_START


def test_without_the_circuit_breaker_a_failing_deployment_keeps_trying(service: Service) -> None:
    """ECS rolling update without the deployment circuit breaker: failing tasks are retried
    and the deployment stays IN_PROGRESS, however many fail."""
    service.create()
    service.settle()
    new = service.register()
    service.rollouts.fail_new_tasks(ACCOUNT, REGION, "rolling", "web")

    service.update(taskDefinition=new)
    service.settle()

    primary = service.described()["deployments"][0]
    assert (primary["rolloutState"], primary["taskDefinition"]) == ("IN_PROGRESS", new)
    assert primary["failedTasks"] > breaker_threshold(1)

    service.rollouts.fail_new_tasks(ACCOUNT, REGION, "rolling", "web", failing=False)
    service.settle()
    assert service.deployments() == [("PRIMARY", "COMPLETED", new)]


def test_failing_tasks_are_one_service_s_only(
    clients: dict[str, Any], rollouts: EcsRollouts, clock: FakeClock
) -> None:
    """A broken image fails its own service's tasks, not another service's."""
    broken = Service(clients["ecs"], rollouts, clock, cluster="broken")
    fine = Service(clients["ecs"], rollouts, clock, cluster="fine")
    for one in (broken, fine):
        one.create(deploymentConfiguration=BREAKER_WITH_ROLLBACK)
    broken.settle()
    rollouts.fail_new_tasks(ACCOUNT, REGION, "broken", "web")

    for one in (broken, fine):
        one.update(taskDefinition=one.register())
    broken.settle()

    assert broken.deployments() == [("PRIMARY", "COMPLETED", broken.revisions[0])]
    assert fine.deployments() == [("PRIMARY", "COMPLETED", fine.revisions[1])]


def test_a_service_in_another_account_rolls_out_in_that_account(
    local_aws: LocalAws,
    session: boto3.session.Session,
    clients: dict[str, Any],
    rollouts: EcsRollouts,
    clock: FakeClock,
) -> None:
    """ECS resources belong to an account: a caller with another account's role (assumed
    through STS) creates and deploys its service there, and the app's account has none."""
    credentials = session.client("sts", endpoint_url=local_aws.url).assume_role(
        RoleArn=f"arn:aws:iam::{DEV_ACCOUNT}:role/bluegreen-deploy", RoleSessionName="test"
    )["Credentials"]
    dev_ecs = boto3.client(
        "ecs",
        region_name=REGION,
        endpoint_url=local_aws.url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    dev = Service(dev_ecs, rollouts, clock, cluster="demo-dev")
    created = dev.create(deploymentConfiguration=BREAKER_WITH_ROLLBACK)
    dev.settle()
    rollouts.fail_new_tasks(DEV_ACCOUNT, REGION, "demo-dev", "web")

    dev.update(taskDefinition=dev.register())
    dev.wait(TIMING.task_failure_seconds * breaker_threshold(1))

    assert created["serviceArn"].split(":")[4] == DEV_ACCOUNT
    assert [state for _, state, _ in dev.deployments()] == ["IN_PROGRESS", "FAILED"]
    dev.settle()
    assert dev.deployments() == [("PRIMARY", "COMPLETED", dev.revisions[0])]
    assert clients["ecs"].list_clusters()["clusterArns"] == []


def test_a_revision_the_service_ran_before_still_starts(service: Service) -> None:
    """A broken image fails its own revision's tasks: an update back to the revision the
    service ran before starts and completes, as an operator's manual rollback does on ECS."""
    service.create(
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    )
    service.settle()
    old, new = service.revisions[0], service.register()
    service.rollouts.fail_new_tasks(ACCOUNT, REGION, "rolling", "web")
    service.update(taskDefinition=new)
    service.settle()
    assert service.deployments()[0] == ("PRIMARY", "FAILED", new)

    service.update(taskDefinition=old)
    service.settle()

    assert service.deployments() == [("PRIMARY", "COMPLETED", old)]


def test_each_completed_deployment_is_kept_in_order_a_rollback_marked_as_one(
    service: Service,
) -> None:
    """ECS keeps a service's deployments (ListServiceDeployments): each one that rolled a
    revision out, and the circuit breaker's rollback to the last completed one."""
    service.create(deploymentConfiguration=BREAKER_WITH_ROLLBACK)
    service.settle()
    first, second, broken = service.revisions[0], service.register(), service.register()
    service.update(taskDefinition=second)
    service.settle()
    service.rollouts.fail_new_tasks(ACCOUNT, REGION, "rolling", "web")
    service.update(taskDefinition=broken)
    service.settle()

    done = service.rollouts.completed(ACCOUNT, REGION, "rolling", "web")

    assert [(d.task_definition, d.rollback) for d in done] == [
        (first, False),
        (second, False),
        (second, True),
    ]
    assert done[1].deployment_id == done[2].deployment_id  # the rollback re-uses it
    assert all(d.started_at <= d.completed_at for d in done)
    assert [d.completed_at for d in done] == sorted(d.completed_at for d in done)
    assert service.rollouts.completed(ACCOUNT, REGION, "other", "web") == []
