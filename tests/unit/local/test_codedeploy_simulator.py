"""The local CodeDeploy ECS blue/green life cycle, observed through the AWS APIs."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import pytest
from bluegreen_cli.local.codedeploy import Timing
from botocore.exceptions import ClientError

from tests.unit.local.harness import Stack, appspec_for

MINUTE = 60.0


def task_sets(stack: Stack) -> list[tuple[str, str, str]]:
    """(status, task definition, target group) of every task set of the sample service."""
    return sorted(
        (t["status"], t["taskDefinition"], t["loadBalancers"][0]["targetGroupArn"])
        for t in stack.service()["taskSets"]
    )


def to_ready(stack: Stack, group: str = "demo-web") -> tuple[str, str]:
    new = stack.register_new_version()
    deployment_id = stack.deploy(new, group=group)
    stack.wait(1.0)  # the replacement task set installs
    assert stack.deployment(deployment_id)["status"] == "Ready"
    return deployment_id, new


def test_full_life_cycle_moves_test_then_production_listener(stack: Stack) -> None:
    s = stack.sample
    old = stack.service()["taskDefinition"]
    new = stack.register_new_version()

    deployment_id = stack.deploy(new)

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


def test_next_deployment_goes_back_to_the_blue_target_group(stack: Stack) -> None:
    s = stack.sample
    first, second_td = to_ready(stack)
    stack.codedeploy.continue_deployment(deploymentId=first)
    stack.wait(1.0)
    assert stack.deployment(first)["status"] == "Succeeded"

    third_td = stack.register_new_version("v3")
    second = stack.deploy(third_td)
    stack.wait(1.0)

    assert stack.deployment(second)["status"] == "Ready"
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
    stack.wait(1.0)
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


def test_stop_with_rollback_restores_blue(stack: Stack) -> None:
    s = stack.sample
    old = stack.service()["taskDefinition"]
    deployment_id, _ = to_ready(stack)

    answer = stack.codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)

    assert answer["status"] in ("Pending", "Succeeded")
    info = stack.deployment(deployment_id)
    assert info["status"] == "Stopped"
    rollback = info["rollbackInfo"]
    assert rollback["rollbackMessage"]
    record = stack.deployment(rollback["rollbackDeploymentId"])
    assert record["creator"] == "codeDeployRollback"
    assert record["status"] == "Succeeded"
    assert record["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment_id
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}
    assert stack.forwards_to(s.production_listener_arn) == {s.blue_target_group_arn: 1}
    assert stack.service()["taskDefinition"] == old
    assert task_sets(stack) == [("PRIMARY", old, s.blue_target_group_arn)]


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
    assert stack.deployment(stack.deploy(newer))["status"] == "InProgress"


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
    assert [tg for _, _, tg in task_sets(stack)] == [s.blue_target_group_arn]
    with pytest.raises(ClientError) as late:
        stack.codedeploy.continue_deployment(deploymentId=deployment_id)
    assert late.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def test_continue_deployment_ready_option_shifts_without_waiting(stack: Stack) -> None:
    group = stack.add_group(
        "no-wait", deploymentReadyOption={"actionOnTimeout": "CONTINUE_DEPLOYMENT"}
    )
    deployment_id = stack.deploy(stack.register_new_version(), group=group)
    stack.wait(1.0)
    assert stack.deployment(deployment_id)["status"] == "InProgress"
    stack.wait(1.0)
    assert stack.deployment(deployment_id)["status"] == "Succeeded"


def test_canary_config_splits_production_before_moving_it_all(stack: Stack) -> None:
    s = stack.sample
    deployment_id = stack.deploy(
        stack.register_new_version(),
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
    )
    stack.wait(1.0)
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

    deployment_id = stack.deploy(new, content)

    info = stack.deployment(deployment_id)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == code
    assert mentions in info["errorInformation"]["message"]
    assert stack.forwards_to(s.test_listener_arn) == {s.blue_target_group_arn: 1}
    assert stack.service()["taskSets"] == []
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
        second: "InProgress",
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
        Timing(install_seconds=0.05, traffic_shift_seconds=0.05, tick_seconds=0.01),
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
