"""The local CodeDeploy ECS blue/green life cycle, observed through the AWS APIs."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from bluegreen.domain.deployment import observe
from bluegreen.models import DeploymentProgress, Timings
from bluegreen_cli.local.codedeploy import Timing
from botocore.exceptions import ClientError

from tests.unit.local.harness import Stack, appspec_for

MINUTE = 60.0
TIMING = Timing()  # what the ``stack`` fixture's simulator runs with


def task_sets(stack: Stack) -> list[tuple[str, str, str]]:
    """(status, task definition, target group) of every task set of the sample service."""
    return sorted(
        (t["status"], t["taskDefinition"], t["loadBalancers"][0]["targetGroupArn"])
        for t in stack.service()["taskSets"]
    )


def started(stack: Stack) -> None:
    """Let a new deployment leave ``Created``."""
    stack.wait(TIMING.created_seconds)


def installed(stack: Stack) -> None:
    """Let a new deployment start and install its replacement task set."""
    stack.wait(TIMING.created_seconds)
    stack.wait(TIMING.install_seconds)


def rolled_back(stack: Stack) -> None:
    """Let a rollback deployment finish."""
    stack.wait(TIMING.rollback_seconds)


def to_ready(stack: Stack, group: str = "demo-web", seed: str = "v2") -> tuple[str, str]:
    new = stack.register_new_version(seed)
    deployment_id = stack.deploy(new, group=group)
    installed(stack)
    assert stack.deployment(deployment_id)["status"] == "Ready"
    return deployment_id, new


def test_full_life_cycle_moves_test_then_production_listener(stack: Stack) -> None:
    s = stack.sample
    old = stack.service()["taskDefinition"]
    new = stack.register_new_version()

    deployment_id = stack.deploy(new)
    started(stack)

    info = stack.deployment(deployment_id)
    assert info["status"] == "InProgress"
    assert info["computePlatform"] == "ECS"
    assert isinstance(info["createTime"], datetime)
    assert "targetInstances" not in info
    assert task_sets(stack) == [
        ("ACTIVE", new, s.green_target_group_arn),
        ("PRIMARY", old, s.blue_target_group_arn),
    ]
    # Installing: no traffic has moved yet.
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}

    stack.wait(1.0)
    info = stack.deployment(deployment_id)
    assert info["status"] == "Ready"
    assert stack.forwards_to(s.test_listener_arn) == {s.green_target_group_arn: 1}
    assert stack.forwards_to(s.production_listener_arn) == {s.blue_target_group_arn: 1}

    stack.codedeploy.continue_deployment(
        deploymentId=deployment_id, deploymentWaitType="READY_WAIT"
    )
    info = stack.deployment(deployment_id)
    assert info["status"] == "InProgress"
    assert info["instanceTerminationWaitTimeStarted"] is False
    assert stack.forwards_to(s.production_listener_arn) == {s.blue_target_group_arn: 1}

    stack.wait(1.0)  # production traffic shift, then no termination wait
    info = stack.deployment(deployment_id)
    assert info["status"] == "Succeeded"
    assert info["instanceTerminationWaitTimeStarted"] is True
    assert info["completeTime"] >= info["createTime"]
    assert stack.forwards_to(s.production_listener_arn) == {s.green_target_group_arn: 1}
    assert stack.forwards_to(s.test_listener_arn) == {s.green_target_group_arn: 1}
    service = stack.service()
    assert service["taskDefinition"] == new
    assert task_sets(stack) == [("PRIMARY", new, s.green_target_group_arn)]


def error_code(call: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return str(error.value.response["Error"]["Code"])


def test_a_new_deployment_is_created_for_a_moment_before_it_starts(stack: Stack) -> None:
    """CodeDeploy DeploymentStatus: a deployment is Created before it is InProgress, and
    ListDeploymentTargets answers DeploymentNotStartedException until it starts."""
    s = stack.sample
    before = task_sets(stack)

    deployment_id = stack.deploy(stack.register_new_version())

    info = stack.deployment(deployment_id)
    assert info["status"] == "Created"
    assert "startTime" not in info
    assert task_sets(stack) == before
    assert (
        error_code(lambda: stack.codedeploy.list_deployment_targets(deploymentId=deployment_id))
        == "DeploymentNotStartedException"
    )
    # The app's CheckDeployment reads Created as "not ready yet", not as an end.
    progress = observe(
        DeploymentProgress(deployment_id=deployment_id),
        info,
        Timings(deployment_max_polls=10),
        datetime.now(UTC),
    )
    assert (progress.status, progress.ready, progress.polls) == ("Created", False, 1)

    stack.wait(TIMING.created_seconds - 0.1)
    assert stack.deployment(deployment_id)["status"] == "Created"
    stack.wait(0.1)
    info = stack.deployment(deployment_id)
    assert info["status"] == "InProgress"
    assert (info["startTime"] - info["createTime"]).total_seconds() == TIMING.created_seconds
    assert len(task_sets(stack)) == len(before) + 1
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}


def test_get_deployment_shows_the_appspec_revision_by_its_sha256_only(stack: Stack) -> None:
    """CodeDeploy GetDeployment: an AppSpecContent revision comes back without its content,
    with the sha256 of the content that was submitted."""
    new = stack.register_new_version()
    content = appspec_for(new)

    deployment_id = stack.deploy(new, content)

    assert stack.deployment(deployment_id)["revision"] == {
        "revisionType": "AppSpecContent",
        "appSpecContent": {"sha256": hashlib.sha256(content.encode()).hexdigest()},
    }
    batch = stack.codedeploy.batch_get_deployments(deploymentIds=[deployment_id])
    assert "content" not in batch["deploymentsInfo"][0]["revision"]["appSpecContent"]


def test_predefined_ecs_deployment_configs_show_their_traffic_routing(stack: Stack) -> None:
    """CodeDeploy GetDeploymentConfig / ListDeploymentConfigs: the predefined ECS configs
    (User Guide, "Deployment configurations on an Amazon ECS compute platform")."""
    get = stack.codedeploy.get_deployment_config

    canary = get(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes")
    info = canary["deploymentConfigInfo"]
    assert info["computePlatform"] == "ECS"
    assert info["trafficRoutingConfig"] == {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
    }
    linear = get(deploymentConfigName="CodeDeployDefault.ECSLinear10PercentEvery3Minutes")
    assert linear["deploymentConfigInfo"]["trafficRoutingConfig"] == {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 3},
    }
    all_at_once = get(deploymentConfigName="CodeDeployDefault.ECSAllAtOnce")
    assert all_at_once["deploymentConfigInfo"]["trafficRoutingConfig"] == {"type": "AllAtOnce"}
    listed = stack.codedeploy.list_deployment_configs()["deploymentConfigsList"]
    assert {
        "CodeDeployDefault.ECSAllAtOnce",
        "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
        "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
        "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "CodeDeployDefault.ECSCanary10Percent15Minutes",
    } <= set(listed)
    assert error_code(lambda: get(deploymentConfigName="my-own-config")) == (
        "DeploymentConfigDoesNotExistException"
    )


def test_the_ecs_target_shows_lifecycle_events_and_both_task_sets(stack: Stack) -> None:
    """CodeDeploy ListDeploymentTargets / GetDeploymentTarget / BatchGetDeploymentTargets: an
    ECS deployment's one target is ``<cluster>:<service>``, an ecsTarget with taskSetsInfo."""
    cd = stack.codedeploy
    deployment_id, _ = to_ready(stack)

    assert cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"] == ["demo:web"]
    target = cd.get_deployment_target(deploymentId=deployment_id, targetId="demo:web")
    ecs = target["deploymentTarget"]["ecsTarget"]
    assert target["deploymentTarget"]["deploymentTargetType"] == "ECSTarget"
    assert ecs["status"] == "Ready"
    assert ecs["targetArn"] == stack.sample.service_arn
    events = {e["lifecycleEventName"]: e["status"] for e in ecs["lifecycleEvents"]}
    assert events == {
        "BeforeInstall": "Succeeded",
        "Install": "Succeeded",
        "AfterInstall": "Succeeded",
        "AllowTestTraffic": "Succeeded",
        "AfterAllowTestTraffic": "Succeeded",
        "BeforeAllowTraffic": "Pending",
        "AllowTraffic": "Pending",
        "AfterAllowTraffic": "Pending",
    }
    assert sorted(
        (t["taskSetLabel"], t["status"], t["trafficWeight"], t["targetGroup"]["name"])
        for t in ecs["taskSetsInfo"]
    ) == [("Blue", "PRIMARY", 100.0, "demo-web-blue"), ("Green", "ACTIVE", 0.0, "demo-web-green")]

    cd.continue_deployment(deploymentId=deployment_id)
    stack.wait(1.0)

    (done,) = cd.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=["demo:web"])[
        "deploymentTargets"
    ]
    assert done["ecsTarget"]["status"] == "Succeeded"
    assert {e["status"] for e in done["ecsTarget"]["lifecycleEvents"]} == {"Succeeded"}
    assert [
        (t["taskSetLabel"], t["status"], t["trafficWeight"])
        for t in done["ecsTarget"]["taskSetsInfo"]
    ] == [("Green", "PRIMARY", 100.0)]
    assert error_code(
        lambda: cd.get_deployment_target(deploymentId=deployment_id, targetId="demo:other")
    ) == ("DeploymentTargetDoesNotExistException")
    assert error_code(
        lambda: cd.batch_get_deployment_targets(
            deploymentId=deployment_id, targetIds=["demo:web", "demo:other"]
        )
    ) == ("DeploymentTargetListSizeExceededException")


def test_operations_the_local_codedeploy_lacks_answer_an_aws_error_not_a_500(
    stack: Stack,
) -> None:
    """An AWS JSON-protocol error (400, ``__type``) for what neither moto nor the simulator
    implements, so a client raises a ClientError with a code instead of a server error."""
    with pytest.raises(ClientError) as refused:
        stack.codedeploy.create_deployment_config(
            deploymentConfigName="mine",
            computePlatform="ECS",
            trafficRoutingConfig={"type": "AllAtOnce"},
        )

    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "UnknownOperationException"
    assert "CreateDeploymentConfig" in error["Error"]["Message"]


def test_next_deployment_goes_back_to_the_blue_target_group(stack: Stack) -> None:
    s = stack.sample
    first, second_td = to_ready(stack)
    stack.codedeploy.continue_deployment(deploymentId=first)
    stack.wait(1.0)
    assert stack.deployment(first)["status"] == "Succeeded"

    _, third_td = to_ready(stack, seed="v3")

    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}
    assert stack.forwards_to(s.production_listener_arn) == {s.green_target_group_arn: 1}
    assert task_sets(stack) == [
        ("ACTIVE", third_td, s.blue_target_group_arn),
        ("PRIMARY", second_td, s.green_target_group_arn),
    ]


def test_yaml_appspec_is_accepted(stack: Stack) -> None:
    new = stack.register_new_version()
    appspec = f"""
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "{new}"
        LoadBalancerInfo:
          ContainerName: "web"
          ContainerPort: 8080
"""
    deployment_id = stack.deploy(new, appspec)
    installed(stack)
    assert stack.deployment(deployment_id)["status"] == "Ready"


def test_termination_wait_keeps_blue_until_it_ends_or_is_continued(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    group = stack.add_group(
        "keep-blue-5m",
        terminateBlueInstancesOnDeploymentSuccess={
            "action": "TERMINATE",
            "terminationWaitTimeInMinutes": 5,
        },
    )
    s = stack.sample
    deployment_id, new = to_ready(stack, group)
    stack.codedeploy.continue_deployment(deploymentId=deployment_id)
    stack.wait(1.0)

    info = stack.deployment(deployment_id)
    assert info["status"] == "InProgress"
    assert info["instanceTerminationWaitTimeStarted"] is True
    assert stack.forwards_to(s.production_listener_arn) == {s.green_target_group_arn: 1}
    assert len(task_sets(stack)) == 2  # blue is still there to roll back to

    stack.codedeploy.continue_deployment(
        deploymentId=deployment_id, deploymentWaitType="TERMINATION_WAIT"
    )
    assert stack.deployment(deployment_id)["status"] == "Succeeded"
    assert task_sets(stack) == [("PRIMARY", new, s.green_target_group_arn)]


def test_stop_with_rollback_runs_a_rollback_deployment_that_takes_time(stack: Stack) -> None:
    """CodeDeploy StopDeployment(autoRollbackEnabled=True): the deployment is Stopped with a
    rollbackInfo naming a rollback deployment, which is InProgress while traffic is rerouted
    to the original task set and the replacement is terminated, then Succeeded."""
    s = stack.sample
    old = stack.service()["taskDefinition"]
    deployment_id, new = to_ready(stack)

    answer = stack.codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)

    assert answer["status"] == "Pending"
    info = stack.deployment(deployment_id)
    assert info["status"] == "Stopped"
    rollback = info["rollbackInfo"]
    assert deployment_id in rollback["rollbackMessage"]
    record = stack.deployment(rollback["rollbackDeploymentId"])
    assert record["creator"] == "codeDeployRollback"
    assert record["status"] == "InProgress"
    assert "completeTime" not in record
    assert record["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment_id
    # Traffic is back on blue at once; the replacement is still being terminated.
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}
    assert stack.forwards_to(s.production_listener_arn) == {s.blue_target_group_arn: 1}
    assert task_sets(stack) == [
        ("ACTIVE", new, s.green_target_group_arn),
        ("PRIMARY", old, s.blue_target_group_arn),
    ]

    rolled_back(stack)

    record = stack.deployment(rollback["rollbackDeploymentId"])
    assert record["status"] == "Succeeded"
    assert (record["completeTime"] - record["startTime"]).total_seconds() == (
        TIMING.rollback_seconds
    )
    assert stack.service()["taskDefinition"] == old
    assert task_sets(stack) == [("PRIMARY", old, s.blue_target_group_arn)]


def test_a_rollback_is_the_groups_active_deployment_until_it_ends(
    make_stack: Callable[..., Stack],
) -> None:
    """One active deployment per deployment group: CreateDeployment during a rollback is
    refused with DeploymentLimitExceededException; the rollback's duration is configurable."""
    stack = make_stack(Timing(rollback_seconds=10.0))
    first, _ = to_ready(stack)
    stack.codedeploy.stop_deployment(deploymentId=first, autoRollbackEnabled=True)
    rollback = stack.deployment(first)["rollbackInfo"]["rollbackDeploymentId"]
    newer = stack.register_new_version("v3")

    stack.wait(9.0)
    assert stack.deployment(rollback)["status"] == "InProgress"
    with pytest.raises(ClientError) as refused:
        stack.deploy(newer)
    assert refused.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    assert rollback in refused.value.response["Error"]["Message"]

    stack.wait(1.0)
    assert stack.deployment(rollback)["status"] == "Succeeded"
    assert stack.deployment(stack.deploy(newer))["status"] == "Created"


def test_stopping_a_rollback_terminates_the_replacement_at_once(stack: Stack) -> None:
    s = stack.sample
    old = stack.service()["taskDefinition"]
    first, _ = to_ready(stack)
    stack.codedeploy.stop_deployment(deploymentId=first, autoRollbackEnabled=True)
    rollback = stack.deployment(first)["rollbackInfo"]["rollbackDeploymentId"]

    answer = stack.codedeploy.stop_deployment(deploymentId=rollback, autoRollbackEnabled=True)

    assert answer["status"] == "Succeeded"
    assert stack.deployment(rollback)["status"] == "Stopped"
    assert task_sets(stack) == [("PRIMARY", old, s.blue_target_group_arn)]
    assert stack.forwards_to(s.production_listener_arn) == {s.blue_target_group_arn: 1}


def test_stop_after_production_moved_puts_production_back_on_blue(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    group = stack.add_group(
        "keep-blue-5m",
        terminateBlueInstancesOnDeploymentSuccess={
            "action": "TERMINATE",
            "terminationWaitTimeInMinutes": 5,
        },
    )
    s = stack.sample
    deployment_id, _ = to_ready(stack, group)
    stack.codedeploy.continue_deployment(deploymentId=deployment_id)
    stack.wait(1.0)
    assert stack.forwards_to(s.production_listener_arn) == {s.green_target_group_arn: 1}

    # Even without a requested rollback: production must not stay on a non-primary task set.
    stack.codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=False)

    info = stack.deployment(deployment_id)
    assert info["status"] == "Stopped"
    assert "rollbackDeploymentId" in info["rollbackInfo"]
    assert stack.forwards_to(s.production_listener_arn) == {s.blue_target_group_arn: 1}
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}
    rolled_back(stack)
    assert [status for status, _, _ in task_sets(stack)] == ["PRIMARY"]


def test_stop_without_rollback_before_traffic_moved_discards_the_replacement(
    stack: Stack,
) -> None:
    s = stack.sample
    deployment_id, _ = to_ready(stack)

    stack.codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=False)

    info = stack.deployment(deployment_id)
    assert info["status"] == "Stopped"
    assert "rollbackInfo" not in info
    assert stack.forwards_to(s.production_listener_arn) == {s.blue_target_group_arn: 1}
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}
    assert [tg for _, _, tg in task_sets(stack)] == [s.blue_target_group_arn]


def test_second_deployment_in_the_group_is_refused_while_one_is_active(stack: Stack) -> None:
    first, _ = to_ready(stack)
    newer = stack.register_new_version("v3")

    with pytest.raises(ClientError) as refused:
        stack.deploy(newer)

    assert refused.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    assert first in refused.value.response["Error"]["Message"]
    stack.codedeploy.stop_deployment(deploymentId=first, autoRollbackEnabled=True)
    rolled_back(stack)
    assert stack.deployment(stack.deploy(newer))["status"] == "Created"


def test_ready_wait_timeout_stops_and_rolls_back(stack: Stack) -> None:
    s = stack.sample
    deployment_id, _ = to_ready(stack)

    stack.wait(59 * MINUTE)
    assert stack.deployment(deployment_id)["status"] == "Ready"
    stack.wait(1 * MINUTE)

    info = stack.deployment(deployment_id)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "TIMEOUT"
    assert info["rollbackInfo"]["rollbackDeploymentId"]
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}
    rolled_back(stack)
    assert [tg for _, _, tg in task_sets(stack)] == [s.blue_target_group_arn]
    with pytest.raises(ClientError) as late:
        stack.codedeploy.continue_deployment(deploymentId=deployment_id)
    assert late.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def test_continue_deployment_ready_option_shifts_without_waiting(stack: Stack) -> None:
    group = stack.add_group(
        "no-wait", deploymentReadyOption={"actionOnTimeout": "CONTINUE_DEPLOYMENT"}
    )
    deployment_id = stack.deploy(stack.register_new_version(), group=group)
    installed(stack)
    assert stack.deployment(deployment_id)["status"] == "InProgress"
    stack.wait(1.0)
    assert stack.deployment(deployment_id)["status"] == "Succeeded"


def test_canary_config_splits_production_before_moving_it_all(stack: Stack) -> None:
    s = stack.sample
    deployment_id = stack.deploy(
        stack.register_new_version(),
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
    )
    installed(stack)
    stack.codedeploy.continue_deployment(deploymentId=deployment_id)
    stack.wait(1.0)

    assert stack.forwards_to(s.production_listener_arn) == {
        s.blue_target_group_arn: 90,
        s.green_target_group_arn: 10,
    }
    stack.wait(5 * MINUTE)
    assert stack.forwards_to(s.production_listener_arn) == {s.green_target_group_arn: 1}
    assert stack.deployment(deployment_id)["status"] == "Succeeded"


@pytest.mark.parametrize(
    ("appspec", "code", "mentions"),
    [
        ("Resources: [unclosed", "INVALID_REVISION", "AppSpec"),
        (
            appspec_for("arn:aws:ecs:us-east-1:123456789012:task-definition/nope:9"),
            "ECS_UPDATE_ERROR",
            "nope:9",
        ),
        ("CONTAINER", "ECS_UPDATE_ERROR", "'api'"),
        ("PORT", "ECS_UPDATE_ERROR", "9090"),
    ],
    ids=["not-yaml", "missing-task-definition", "wrong-container", "wrong-port"],
)
def test_invalid_appspec_fails_the_deployment_and_changes_nothing(
    stack: Stack, appspec: str, code: str, mentions: str
) -> None:
    s = stack.sample
    new = stack.register_new_version()
    content = {
        "CONTAINER": appspec_for(new, container="api"),
        "PORT": appspec_for(new, port=9090),
    }.get(appspec, appspec)
    before = task_sets(stack)

    deployment_id = stack.deploy(new, content)
    started(stack)

    info = stack.deployment(deployment_id)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == code
    assert mentions in info["errorInformation"]["message"]
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}
    assert task_sets(stack) == before
    assert stack.service()["taskDefinition"] == s.task_definition_arn


def test_operations_answer_aws_errors(stack: Stack) -> None:
    deployment_id, _ = to_ready(stack)

    def code(call: Callable[[], object]) -> str:
        with pytest.raises(ClientError) as error:
            call()
        return str(error.value.response["Error"]["Code"])

    assert code(lambda: stack.codedeploy.get_deployment(deploymentId="d-NOPE00000")) == (
        "DeploymentDoesNotExistException"
    )
    assert code(lambda: stack.codedeploy.get_deployment(deploymentId="12345")) == (
        "InvalidDeploymentIdException"
    )
    assert code(
        lambda: stack.codedeploy.continue_deployment(
            deploymentId=deployment_id, deploymentWaitType="TERMINATION_WAIT"
        )
    ) == ("DeploymentIsNotInReadyStateException")
    assert code(
        lambda: stack.codedeploy.create_deployment(
            applicationName="demo-web",
            deploymentGroupName="nope",
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": "x: 1"}},
        )
    ) == ("DeploymentGroupDoesNotExistException")
    stack.codedeploy.stop_deployment(deploymentId=deployment_id)
    assert code(lambda: stack.codedeploy.stop_deployment(deploymentId=deployment_id)) == (
        "DeploymentAlreadyCompletedException"
    )


def test_list_and_batch_get_see_every_deployment(stack: Stack) -> None:
    first, _ = to_ready(stack)
    stack.codedeploy.stop_deployment(deploymentId=first, autoRollbackEnabled=True)
    rollback = stack.deployment(first)["rollbackInfo"]["rollbackDeploymentId"]
    rolled_back(stack)
    second = stack.deploy(stack.register_new_version("v3"))

    listed = stack.codedeploy.list_deployments(
        applicationName="demo-web", deploymentGroupName="demo-web"
    )["deployments"]
    assert set(listed) == {first, rollback, second}
    stopped = stack.codedeploy.list_deployments(
        applicationName="demo-web", deploymentGroupName="demo-web", includeOnlyStatuses=["Stopped"]
    )["deployments"]
    assert stopped == [first]
    batch = stack.codedeploy.batch_get_deployments(deploymentIds=[first, second])
    assert {d["deploymentId"]: d["status"] for d in batch["deploymentsInfo"]} == {
        first: "Stopped",
        second: "Created",
    }


def test_update_service_task_definition_is_refused_on_a_code_deploy_service(
    stack: Stack,
) -> None:
    new = stack.register_new_version()

    with pytest.raises(ClientError) as refused:
        stack.ecs.update_service(cluster="demo", service="web", taskDefinition=new)

    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"] == (
        "Unable to update task definition on services with a CODE_DEPLOY deployment "
        "controller. Use AWS CodeDeploy to trigger a new deployment."
    )
    assert stack.service()["taskDefinition"] == stack.sample.task_definition_arn
    with pytest.raises(ClientError):
        stack.ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)


def test_update_service_desired_count_stays_allowed(stack: Stack) -> None:
    stack.ecs.update_service(cluster="demo", service="web", desiredCount=4)

    assert stack.service()["desiredCount"] == 4


def test_ecs_controlled_services_are_not_guarded(stack: Stack) -> None:
    new = stack.register_new_version()
    stack.ecs.create_service(
        cluster="demo", serviceName="worker", taskDefinition=new, desiredCount=1
    )

    stack.ecs.update_service(cluster="demo", service="worker", taskDefinition=new)

    (worker,) = stack.ecs.describe_services(cluster="demo", services=["worker"])["services"]
    assert worker["taskDefinition"] == new


def test_ticker_moves_deployments_without_any_call(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(
        Timing(
            created_seconds=0.05,
            install_seconds=0.05,
            traffic_shift_seconds=0.05,
            tick_seconds=0.01,
        ),
        real_time=True,
    )
    s = stack.sample
    stack.simulator.start()
    try:
        stack.deploy(stack.register_new_version())
        deadline = time.monotonic() + 5
        while stack.forwards_to(s.test_listener_arn) != {s.green_target_group_arn: 1}:
            assert time.monotonic() < deadline, "the test listener never moved"
            time.sleep(0.01)
    finally:
        stack.simulator.stop()


def test_an_observer_reads_which_task_definition_a_deployment_deploys(stack: Stack) -> None:
    """GetDeployment shows only the AppSpec's sha256, as on AWS; the simulator tells an
    observer beside the stack the task definition the AppSpec named."""
    new = stack.register_new_version("observed")
    deployment_id = stack.deploy(new)

    shown = stack.deployment(deployment_id)["revision"]
    assert "content" not in shown["appSpecContent"]
    assert stack.simulator.deployed_task_definition(deployment_id) == new
    assert stack.simulator.deployed_task_definition("d-NOTADEPLOY") is None
