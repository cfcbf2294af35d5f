"""The sample target is what the local stack's contract promises, read back through the APIs."""

from __future__ import annotations

from typing import Any

import boto3
from bluegreen.config import ServiceCatalog
from bluegreen_cli.local.ecr import image_digest
from bluegreen_cli.local.sample import (
    SampleResources,
    image_manifest,
    provision_samples,
    sample_configuration,
)
from moto.moto_api import _internal as moto_api

from tests.unit.local.harness import REGION, Stack, free_port


def test_service_runs_the_initial_image_under_code_deploy(stack: Stack) -> None:
    s = stack.sample
    images = stack.ecr.describe_images(repositoryName="demo-web")["imageDetails"]
    assert [(i["imageDigest"], i["imageTags"]) for i in images] == [
        (s.initial_image_digest, ["initial"])
    ]
    # ECR's digest is the sha256 of the manifest as pushed.
    assert s.initial_image_digest == image_digest(image_manifest("demo-web:initial"))
    service = stack.service()
    assert service["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert service["desiredCount"] == 2
    assert service["loadBalancers"] == [
        {"targetGroupArn": s.blue_target_group_arn, "containerName": "web", "containerPort": 8080}
    ]
    definition = stack.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    (container,) = definition["taskDefinition"]["containerDefinitions"]
    assert container["name"] == "web"
    assert container["image"] == f"{s.repository_uri}@{s.initial_image_digest}"
    assert container["portMappings"][0]["containerPort"] == 8080
    assert definition["taskDefinition"]["executionRoleArn"] == s.execution_role_arn


def test_before_its_first_deployment_the_service_shows_its_primary_task_set(stack: Stack) -> None:
    """ECS CreateService with the CODE_DEPLOY controller: the service comes with a PRIMARY
    task set of its task definition behind its load balancer, and no deployments."""
    s = stack.sample
    service = stack.service()

    (task_set,) = service["taskSets"]
    assert task_set["status"] == "PRIMARY"
    assert task_set["taskDefinition"] == s.task_definition_arn
    assert task_set["loadBalancers"] == service["loadBalancers"]
    assert task_set["stabilityStatus"] == "STEADY_STATE"
    assert task_set["runningCount"] == service["desiredCount"] == 2
    assert service["deployments"] == []


def test_listeners_start_on_blue_and_target_groups_check_health(stack: Stack) -> None:
    s = stack.sample
    listeners = stack.elbv2.describe_listeners(LoadBalancerArn=s.load_balancer_arn)["Listeners"]
    assert {listener["Port"] for listener in listeners} == {s.production_port, s.test_port}
    for arn in (s.production_listener_arn, s.test_listener_arn):
        assert stack.forwards_to(arn) == {s.blue_target_group_arn: 1}
    groups = stack.elbv2.describe_target_groups(Names=["demo-web-blue", "demo-web-green"])
    for group in groups["TargetGroups"]:
        assert (group["Port"], group["TargetType"], group["HealthCheckPath"]) == (
            8080,
            "ip",
            "/health",
        )


def test_scaling_is_registered_and_not_suspended(
    stack: Stack, session: boto3.session.Session, local_aws: Any
) -> None:
    scaling = session.client(
        "application-autoscaling", region_name=REGION, endpoint_url=local_aws.url
    )
    (target,) = scaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=["service/demo/web"]
    )["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 10)
    assert not any(target["SuspendedState"].values())
    (policy,) = scaling.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId="service/demo/web"
    )["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"


def test_deployment_group_waits_for_approval_of_test_traffic(stack: Stack) -> None:
    s: SampleResources = stack.sample
    group = stack.codedeploy.get_deployment_group(
        applicationName="demo-web", deploymentGroupName="demo-web"
    )["deploymentGroupInfo"]
    assert group["computePlatform"] == "ECS"
    assert group["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    assert group["ecsServices"] == [{"serviceName": "web", "clusterName": "demo"}]
    blue_green = group["blueGreenDeploymentConfiguration"]
    assert blue_green["deploymentReadyOption"] == {
        "actionOnTimeout": "STOP_DEPLOYMENT",
        "waitTimeInMinutes": 60,
    }
    assert (
        blue_green["terminateBlueInstancesOnDeploymentSuccess"]["terminationWaitTimeInMinutes"] == 0
    )
    assert set(group["autoRollbackConfiguration"]["events"]) == {
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_STOP_ON_REQUEST",
    }
    (pair,) = group["loadBalancerInfo"]["targetGroupPairInfoList"]
    assert pair["prodTrafficRoute"]["listenerArns"] == [s.production_listener_arn]
    assert pair["testTrafficRoute"]["listenerArns"] == [s.test_listener_arn]


def test_sender_and_approver_identities_are_verified(
    stack: Stack, session: boto3.session.Session, local_aws: Any
) -> None:
    ses = session.client("ses", region_name=REGION, endpoint_url=local_aws.url)
    attributes = ses.get_identity_verification_attributes(
        Identities=["bluegreen@example.com", "approver@example.com"]
    )["VerificationAttributes"]
    assert {k: v["VerificationStatus"] for k, v in attributes.items()} == {
        "bluegreen@example.com": "Success",
        "approver@example.com": "Success",
    }


def test_more_samples_are_numbered_targets_of_their_own(
    local_aws: Any, session: boto3.session.Session
) -> None:
    """Each sample is a whole target (repository, cluster, ALB, deployment group) of its own;
    the first keeps the contract's names, and the configuration deploys each one."""
    moto_api.moto_api_backend.reset()
    first, second, third = provision_samples(
        local_aws.url,
        session=session,
        listener_ports=[(free_port(), free_port()) for _ in range(3)],
    )

    assert (first.repository_name, first.cluster_name, first.service_name) == (
        "demo-web",
        "demo",
        "web",
    )
    assert (third.repository_name, third.cluster_name, third.service_name) == (
        "demo-web-3",
        "demo-3",
        "web",
    )
    assert third.scalable_target_resource_id == "service/demo-3/web"
    assert len({s.load_balancer_arn for s in (first, second, third)}) == 3
    assert len({s.production_port for s in (first, second, third)}) == 3
    assert {s.vpc_id for s in (first, second, third)} == {first.vpc_id}
    ecs = session.client("ecs", region_name=REGION, endpoint_url=local_aws.url)
    (service,) = ecs.describe_services(cluster="demo-2", services=["web"])["services"]
    assert service["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert service["loadBalancers"][0]["targetGroupArn"] == second.blue_target_group_arn

    catalog = ServiceCatalog.parse(sample_configuration(first, second, third), "sample")
    deployed = {(s.repository, s.cluster, s.service, s.test_url) for s in catalog.services}
    assert deployed == {
        (s.repository_name, s.cluster_name, s.service_name, f"{s.test_url}/health")
        for s in (first, second, third)
    }


def test_the_sample_configuration_is_the_first_sample_alone(stack: Stack) -> None:
    (service,) = ServiceCatalog.parse(sample_configuration(stack.sample), "sample").services
    assert (service.name, service.repository, service.cluster, service.service) == (
        "demo-web",
        "demo-web",
        "demo",
        "web",
    )
    assert service.timings.deployment_poll_seconds == 1
