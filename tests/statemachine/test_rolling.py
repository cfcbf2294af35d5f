"""Method ``rolling``: ECS's rolling update through the real ASL, on the local ECS.

Each test's service is its own (its own cluster and lock) in the app's account, with the
ECS deployment controller and the deployment circuit breaker with rollback on.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from bluegreen.adapters.store import StateTable
from bluegreen.models import ServiceConfig
from bluegreen_cli.local.ecs_rollouts import TASKS_FAILED_TO_START
from bluegreen_cli.local.sample import DEV_ACCOUNT_ID, DEV_CLUSTER, DEV_ROLE_ARN, DEV_SERVICE
from bluegreen_cli.local.server import LocalStack
from conftest import ACCOUNT, Run, SampleService

NOT_SUSPENDED = {
    "DynamicScalingInSuspended": False,
    "DynamicScalingOutSuspended": False,
    "ScheduledScalingSuspended": False,
}


@dataclass(frozen=True)
class RollingService:
    stack: LocalStack
    cluster: str
    running: str  # the task definition it runs before the test deploys

    def config(self, sample_service: SampleService) -> ServiceConfig:
        return sample_service(
            method="rolling",
            cluster=self.cluster,
            service="web",
            approvers=[],
            codedeploy_application=None,
            deployment_group=None,
            deployment_config=None,
            test_url=None,
        )

    def described(self) -> dict[str, Any]:
        ecs = self.stack.client("ecs")
        (found,) = ecs.describe_services(cluster=self.cluster, services=["web"])["services"]
        return dict(found)

    def deployments(self) -> list[tuple[str, str, str]]:
        return [
            (d["status"], d["rolloutState"], d["taskDefinition"])
            for d in self.described()["deployments"]
        ]

    def scaling(self) -> dict[str, bool]:
        (target,) = self.stack.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[f"service/{self.cluster}/web"]
        )["ScalableTargets"]
        return dict(target["SuspendedState"])

    def table(self) -> StateTable:
        assert self.stack.app is not None
        return StateTable(self.stack.client("dynamodb"), self.stack.app.outputs["TableName"])


def rolling_service(stack: LocalStack, cluster: str, breaker: bool = True) -> RollingService:
    """A running ECS-controller service, with its circuit breaker (and its rollback) or none,
    and its scaling."""
    ecs = stack.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    running = ecs.register_task_definition(
        family=cluster,
        containerDefinitions=[
            {"name": "web", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/demo-web:1"}
            | {"memory": 128, "portMappings": [{"containerPort": 8080}]}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition=running,
        desiredCount=1,
        deploymentController={"type": "ECS"},
        deploymentConfiguration={
            "deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker}
        },
    )
    stack.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{cluster}/web",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    service = RollingService(stack, cluster, running)
    wait_until(lambda: service.deployments() == [("PRIMARY", "COMPLETED", running)])
    return service


def wait_until(done: Any, timeout: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.2)


def rendered_task_definition(run: Run) -> str:
    for event in run.history():
        details = event.get("stateExitedEventDetails", {})
        if details.get("name") == "RenderTaskDefinition":
            return str(json.loads(details["output"])["render"]["task_definition"])
    raise AssertionError("RenderTaskDefinition never finished")


def exited_with(run: Run, state: str) -> dict[str, Any]:
    """The execution document as ``state`` handed it on."""
    for event in reversed(run.history()):
        details = event.get("stateExitedEventDetails", {})
        if details.get("name") == state:
            return dict(json.loads(details["output"]))
    raise AssertionError(f"{state} never finished")


def emails_about(stack: LocalStack, run: Run) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{stack.endpoint_url}/_local/outbox") as r:
        return [
            m
            for m in json.load(r)
            if m["channel"] == "email" and run.state.image.tag in str(m.get("subject"))
        ]


def test_rolling_deploys_with_no_approval_and_scaling_untouched(
    start: Any, sample_service: SampleService, stack: LocalStack
) -> None:
    """ECS rolling update: UpdateService to the rendered revision, COMPLETED; an environment
    without approvers asks nobody, and rolling suspends no scaling. The lock is released as
    deployed and the history records the outcome."""
    service = rolling_service(stack, "rolling-ok")

    run = start(service.config(sample_service))
    execution = run.finish(timeout=60)

    assert execution["status"] == "SUCCEEDED", run.entered()
    entered = run.entered()
    assert "RequestApproval" not in entered
    assert "SuspendScaling" not in entered
    assert "CreateDeployment" not in entered
    assert {"StartRollout", "CheckRollout", "ReleaseRollout", "NotifyDeployed"} <= set(entered)
    new = rendered_task_definition(run)
    assert service.deployments() == [("PRIMARY", "COMPLETED", new)]
    assert service.described()["runningCount"] == 1
    assert service.scaling() == NOT_SUSPENDED
    assert emails_about(stack, run) == []
    table = service.table()
    key = run.state.service.lock_key
    assert table.lock(key) is None
    running = table.service_queue(key).running
    assert running is not None
    assert running.digest == run.state.image.digest
    (row,) = table.history(key)
    assert (row["outcome"], row["method"], row["task_definition"]) == ("succeeded", "rolling", new)
    assert row["ecs_deployment_id"].startswith("ecs-svc/")
    output = json.loads(execution["output"])
    assert output["rollout"]["completed"] is True
    assert "scaling" not in output


def test_circuit_breaker_failure_ends_failed_with_ecs_reason_on_the_previous_revision(
    start: Any, sample_service: SampleService, stack: LocalStack
) -> None:
    """ECS deployment circuit breaker with rollback: the new tasks fail to start, ECS marks
    the deployment FAILED ("ECS deployment circuit breaker: tasks failed to start.") and
    rolls back to the last completed deployment. The execution fails with ECS's reason once
    the service is steady on its previous revision; the lock is released, not deployed."""
    service = rolling_service(stack, "rolling-broken")
    assert stack.rollouts is not None
    stack.rollouts.fail_new_tasks(ACCOUNT, "us-east-1", service.cluster, "web")

    run = start(service.config(sample_service))
    execution = run.finish(timeout=60)

    assert execution["status"] == "FAILED", run.entered()
    assert execution["error"] == "RolloutFailed"
    assert execution["cause"].endswith(f"failed: {TASKS_FAILED_TO_START}")
    entered = run.entered()
    assert {"RollBackRollout", "ReleaseAfterRollout", "NotifyRolledBack"} <= set(entered)
    assert entered[-1] == "RolledBack"
    assert service.deployments() == [("PRIMARY", "COMPLETED", service.running)]
    assert service.described()["taskDefinition"] == service.running
    assert service.scaling() == NOT_SUSPENDED
    table = service.table()
    key = run.state.service.lock_key
    assert table.lock(key) is None
    assert table.service_queue(key).running is None  # nothing of ours was deployed
    (row,) = table.history(key)
    assert row["outcome"] == "rolled_back"
    assert TASKS_FAILED_TO_START in row["reason"]
    rollback = exited_with(run, "NotifyRolledBack")["rollout"]["rollback"]
    assert (rollback["by"], rollback["finished"]) == ("ecs", True)
    assert rollback["task_definition"] == service.running


def test_a_rollout_out_of_polls_is_rolled_back_by_updating_the_service_back(
    start: Any, sample_service: SampleService, stack: LocalStack
) -> None:
    """ECS rolling update without the circuit breaker keeps retrying failing tasks, IN_PROGRESS:
    when the poll budget runs out, the service is updated back to the revision it ran
    (which still starts) and the execution fails once it is steady there."""
    service = rolling_service(stack, "rolling-stuck", breaker=False)
    assert stack.rollouts is not None
    stack.rollouts.fail_new_tasks(ACCOUNT, "us-east-1", service.cluster, "web")
    config = service.config(sample_service)
    budget = config.model_copy(
        update={"timings": config.timings.model_copy(update={"deployment_max_polls": 3})}
    )

    run = start(budget)
    execution = run.finish(timeout=60)

    assert execution["status"] == "FAILED", run.entered()
    assert execution["error"] == "RolloutTimedOut"
    assert "still IN_PROGRESS after 3 polls" in execution["cause"]
    assert run.entered()[-1] == "RolledBack"
    assert service.deployments() == [("PRIMARY", "COMPLETED", service.running)]
    rollback = exited_with(run, "NotifyRolledBack")["rollout"]["rollback"]
    assert (rollback["by"], rollback["finished"]) == ("bluegreen", True)
    assert service.table().lock(run.state.service.lock_key) is None


def sample_switch(stack: LocalStack, document: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{stack.endpoint_url}/_local/sample",
        data=None if document is None else json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if document is None else "POST",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def dev_ecs(stack: LocalStack) -> Any:
    """ECS in the development account, through its deploy role (as the app reaches it)."""
    credentials = stack.client("sts").assume_role(RoleArn=DEV_ROLE_ARN, RoleSessionName="test")[
        "Credentials"
    ]
    return boto3.client(
        "ecs",
        region_name="us-east-1",
        endpoint_url=stack.endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_dev_healthy_false_makes_the_dev_services_new_tasks_fail(stack: LocalStack) -> None:
    """POST /_local/sample {"dev_healthy": false}: the development service's new revision
    fails to start, and ECS's circuit breaker rolls it back ({"healthy": ...} is the
    production sample's, left as it was)."""
    ecs = dev_ecs(stack)

    def dev_states() -> list[tuple[str, str]]:
        (service,) = ecs.describe_services(cluster=DEV_CLUSTER, services=[DEV_SERVICE])["services"]
        return [(d["status"], d["rolloutState"]) for d in service["deployments"]]

    wait_until(lambda: dev_states() == [("PRIMARY", "COMPLETED")])
    (service,) = ecs.describe_services(cluster=DEV_CLUSTER, services=[DEV_SERVICE])["services"]
    running = service["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
    task_level = ("cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn")
    broken = ecs.register_task_definition(
        family=definition["family"],
        containerDefinitions=[{**definition["containerDefinitions"][0], "image": "web:broken"}],
        **{key: definition[key] for key in task_level if key in definition},
    )["taskDefinition"]["taskDefinitionArn"]

    assert sample_switch(stack, {"dev_healthy": False}) == (200, {"dev_healthy": False})
    try:
        status, shown = sample_switch(stack)
        assert (status, shown["dev_healthy"], shown["healthy"]) == (200, False, True)
        ecs.update_service(cluster=DEV_CLUSTER, service=DEV_SERVICE, taskDefinition=broken)
        wait_until(lambda: ("ACTIVE", "FAILED") in dev_states())
        wait_until(lambda: dev_states() == [("PRIMARY", "COMPLETED")])
    finally:
        assert sample_switch(stack, {"dev_healthy": True}) == (200, {"dev_healthy": True})
    (service,) = ecs.describe_services(cluster=DEV_CLUSTER, services=[DEV_SERVICE])["services"]
    assert service["taskDefinition"] == running
    assert service["serviceArn"].split(":")[4] == DEV_ACCOUNT_ID
    assert sample_switch(stack, {"dev_healthy": "no"})[0] == 400
