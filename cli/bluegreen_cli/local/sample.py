"""The sample target of ``bluegreen local serve --sample``: an ECS service to deploy to.

:func:`provision_sample` builds, through the AWS APIs of the local endpoint (as an operator
would on AWS), everything a CodeDeploy ECS blue/green deployment needs: the ECR repository
with a first image, the task definition, the ``CODE_DEPLOY`` service behind an ALB with a
production and a test listener, the two target groups, the service's auto scaling, the
CodeDeploy application and deployment group, and the SES identities the notifications use.

The first image is pushed with the tag ``initial``. Call :func:`provision_sample` before the
app's EventBridge rules exist, so that push starts nothing; should a rule see it anyway, the
trigger refuses it because ``initial`` does not match the deployable tag pattern (a commit SHA
or a semantic version).

:class:`SampleTarget` stands in for the service's containers behind the load balancer
(see ``loadbalancer.py``): it answers for whichever task definition a target group's task set
runs, and holds the switch that makes the replacement side fail its health check.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from moto.elbv2.models import elbv2_backends

from bluegreen_cli.local.codedeploy import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, forward_weights
from bluegreen_cli.local.loadbalancer import Reply, Route

logger = logging.getLogger(__name__)

REPOSITORY = "demo-web"
CLUSTER = "demo"
SERVICE = "web"
CONTAINER = "web"
CONTAINER_PORT = 8080
FAMILY = "web"
LOAD_BALANCER = "demo-alb"
BLUE_TARGET_GROUP = "demo-web-blue"
GREEN_TARGET_GROUP = "demo-web-green"
APPLICATION = "demo-web"
DEPLOYMENT_GROUP = "demo-web"
SENDER_EMAIL = "bluegreen@example.com"
APPROVER_EMAIL = "approver@example.com"
INITIAL_TAG = "initial"
SCALABLE_TARGET = f"service/{CLUSTER}/{SERVICE}"

_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass(frozen=True)
class SampleResources:
    """What :func:`provision_sample` made."""

    account_id: str
    region: str
    repository_name: str
    repository_uri: str
    initial_image_tag: str
    initial_image_digest: str
    initial_image: str  # <repository uri>@<digest>, as the task definition names it
    task_definition_arn: str
    execution_role_arn: str
    cluster_name: str
    cluster_arn: str
    service_name: str
    service_arn: str
    container_name: str
    container_port: int
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str
    load_balancer_arn: str
    load_balancer_name: str
    blue_target_group_arn: str
    green_target_group_arn: str
    production_listener_arn: str
    test_listener_arn: str
    production_port: int
    test_port: int
    scalable_target_resource_id: str
    scaling_policy_arn: str
    codedeploy_application: str
    deployment_group: str
    codedeploy_role_arn: str
    sender_email: str
    approver_email: str

    @property
    def production_url(self) -> str:
        return f"http://127.0.0.1:{self.production_port}"

    @property
    def test_url(self) -> str:
        return f"http://127.0.0.1:{self.test_port}"


def image_manifest(seed: str) -> str:
    """A Docker image manifest whose layers (and so whose ECR digest) follow from ``seed``."""

    def digest(part: str) -> str:
        return "sha256:" + hashlib.sha256(f"{seed}/{part}".encode()).hexdigest()

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": _DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1024,
                "digest": digest("config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2048,
                    "digest": digest("layer"),
                }
            ],
        }
    )


def provision_sample(
    endpoint_url: str | None = None,
    *,
    session: boto3.session.Session | None = None,
    region_name: str = DEFAULT_REGION,
    production_port: int,
    test_port: int,
) -> SampleResources:
    """Create the sample target through the AWS APIs at ``endpoint_url`` (any credentials).

    The ALB's listeners take the ports given (see ``loadbalancer.reserve_ports``).

    Without ``endpoint_url`` the clients use boto3's default endpoints (under ``mock_aws``).
    """
    # The local endpoint takes any credentials; fixed ones keep a developer's profile out of it.
    session = session or boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
        region_name=region_name,
    )
    where: dict[str, Any] = {"region_name": region_name, "endpoint_url": endpoint_url}

    account_id = session.client("sts", **where).get_caller_identity()["Account"]
    iam = session.client("iam", **where)
    execution_role = _role(
        iam,
        "demo-web-task-execution",
        "ecs-tasks.amazonaws.com",
        ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    )
    codedeploy_role = _role(
        iam,
        "demo-web-codedeploy",
        "codedeploy.amazonaws.com",
        ["ecs:*TaskSet*", "ecs:DescribeServices", "elasticloadbalancing:*", "iam:PassRole"],
    )

    ecr = session.client("ecr", **where)
    repository = ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")[
        "repository"
    ]
    image = ecr.put_image(
        repositoryName=REPOSITORY,
        imageManifest=image_manifest(f"{REPOSITORY}:{INITIAL_TAG}"),
        imageManifestMediaType=_DOCKER_MANIFEST,
        imageTag=INITIAL_TAG,
    )["image"]
    digest = image["imageId"]["imageDigest"]
    image_ref = f"{repository['repositoryUri']}@{digest}"

    ec2 = session.client("ec2", **where)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{region_name}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for cidr, zone in (("10.20.1.0/24", "a"), ("10.20.2.0/24", "b"))
    )
    security_group = ec2.create_security_group(
        GroupName="demo-web", Description="demo-web ALB and tasks", VpcId=vpc_id
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=security_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": "10.20.0.0/16"}],
            }
            for port in (CONTAINER_PORT, production_port, test_port)
        ],
    )

    elbv2 = session.client("elbv2", **where)
    balancer = elbv2.create_load_balancer(
        Name=LOAD_BALANCER,
        Subnets=list(subnets),
        SecurityGroups=[security_group],
        Scheme="internal",
        Type="application",
    )["LoadBalancers"][0]
    blue, green = (
        elbv2.create_target_group(
            Name=name,
            Protocol="HTTP",
            Port=CONTAINER_PORT,
            VpcId=vpc_id,
            TargetType="ip",
            HealthCheckPath="/health",
            HealthCheckProtocol="HTTP",
        )["TargetGroups"][0]["TargetGroupArn"]
        for name in (BLUE_TARGET_GROUP, GREEN_TARGET_GROUP)
    )
    # Both listeners start on blue; CodeDeploy moves the test listener to green first.
    production, test = (
        elbv2.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": blue}],
        )["Listeners"][0]["ListenerArn"]
        for port in (production_port, test_port)
    )

    ecs = session.client("ecs", **where)
    cluster_arn = ecs.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
    task_definition_arn = ecs.register_task_definition(
        family=FAMILY,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=execution_role,
        containerDefinitions=[
            {
                "name": CONTAINER,
                "image": image_ref,
                "essential": True,
                "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    service_arn = ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=task_definition_arn,
        desiredCount=2,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[
            {"targetGroupArn": blue, "containerName": CONTAINER, "containerPort": CONTAINER_PORT}
        ],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(subnets),
                "securityGroups": [security_group],
                "assignPublicIp": "DISABLED",
            }
        },
    )["service"]["serviceArn"]

    scaling = session.client("application-autoscaling", **where)
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=SCALABLE_TARGET,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=2,
        MaxCapacity=10,
        SuspendedState={
            "DynamicScalingInSuspended": False,
            "DynamicScalingOutSuspended": False,
            "ScheduledScalingSuspended": False,
        },
    )
    policy_arn = scaling.put_scaling_policy(
        PolicyName="demo-web-cpu",
        ServiceNamespace="ecs",
        ResourceId=SCALABLE_TARGET,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
            "ScaleInCooldown": 120,
            "ScaleOutCooldown": 60,
        },
    )["PolicyARN"]

    codedeploy = session.client("codedeploy", **where)
    codedeploy.create_application(applicationName=APPLICATION, computePlatform="ECS")
    codedeploy.create_deployment_group(
        applicationName=APPLICATION,
        deploymentGroupName=DEPLOYMENT_GROUP,
        serviceRoleArn=codedeploy_role,
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT",
                "waitTimeInMinutes": 60,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 0,
            },
        },
        autoRollbackConfiguration={
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"],
        },
        ecsServices=[{"serviceName": SERVICE, "clusterName": CLUSTER}],
        loadBalancerInfo={
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": BLUE_TARGET_GROUP}, {"name": GREEN_TARGET_GROUP}],
                    "prodTrafficRoute": {"listenerArns": [production]},
                    "testTrafficRoute": {"listenerArns": [test]},
                }
            ]
        },
    )

    ses = session.client("ses", **where)
    for address in (SENDER_EMAIL, APPROVER_EMAIL):
        ses.verify_email_identity(EmailAddress=address)

    logger.info("sample target provisioned: %s/%s behind %s", CLUSTER, SERVICE, LOAD_BALANCER)
    return SampleResources(
        account_id=account_id,
        region=region_name,
        repository_name=REPOSITORY,
        repository_uri=repository["repositoryUri"],
        initial_image_tag=INITIAL_TAG,
        initial_image_digest=digest,
        initial_image=image_ref,
        task_definition_arn=task_definition_arn,
        execution_role_arn=execution_role,
        cluster_name=CLUSTER,
        cluster_arn=cluster_arn,
        service_name=SERVICE,
        service_arn=service_arn,
        container_name=CONTAINER,
        container_port=CONTAINER_PORT,
        vpc_id=vpc_id,
        subnet_ids=subnets,
        security_group_id=security_group,
        load_balancer_arn=balancer["LoadBalancerArn"],
        load_balancer_name=LOAD_BALANCER,
        blue_target_group_arn=blue,
        green_target_group_arn=green,
        production_listener_arn=production,
        test_listener_arn=test,
        production_port=production_port,
        test_port=test_port,
        scalable_target_resource_id=SCALABLE_TARGET,
        scaling_policy_arn=policy_arn,
        codedeploy_application=APPLICATION,
        deployment_group=DEPLOYMENT_GROUP,
        codedeploy_role_arn=codedeploy_role,
        sender_email=SENDER_EMAIL,
        approver_email=APPROVER_EMAIL,
    )


def sample_configuration(sample: SampleResources) -> str:
    """The service configuration (TOML) that deploys the sample, as an installation keeps it.

    It probes the test listener on the port it actually got, and polls every second so a
    local deployment takes seconds; the production defaults are minutes.
    """
    return f"""\
# The sample target of `bluegreen local serve --sample`. On AWS, an installation keeps its
# own configuration in the SSM parameter named by the template's ServicesParameterName.
[services.{REPOSITORY}]
repository = "{sample.repository_name}"
environment = "local"
cluster = "{sample.cluster_name}"
service = "{sample.service_name}"
container = "{sample.container_name}"
container_port = {sample.container_port}
codedeploy_application = "{sample.codedeploy_application}"
deployment_group = "{sample.deployment_group}"
approvers = ["{sample.approver_email}"]
# Through the load balancer's test listener, where CodeDeploy puts the new task set first.
test_url = "{sample.test_url}/health"

[services.{REPOSITORY}.timings]
approval_timeout_seconds = 3600
deployment_poll_seconds = 1
deployment_max_polls = 120
probe_interval_seconds = 1
probe_required_passes = 3
probe_max_attempts = 10
probe_request_timeout_seconds = 2.0
"""


def _role(iam: Any, name: str, service: str, actions: list[str]) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    return arn


@dataclass(frozen=True)
class SampleApp:
    """The sample web container: ``/`` says what it runs, ``/health`` is its health check."""

    image: str
    task_definition: str
    target_group: str
    healthy: bool

    def handle(self, method: str, path: str) -> Reply:
        route = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return Reply.json(405, {"error": f"{method} is not allowed"})
        if route == "/health":
            if self.healthy:
                return Reply.json(200, {"status": "ok", "image": self.image})
            return Reply.json(503, {"status": "unhealthy", "image": self.image})
        if route == "/":
            return Reply.json(
                200,
                {
                    "image": self.image,
                    "task_definition": self.task_definition,
                    "target_group": self.target_group,
                },
            )
        return Reply.json(404, {"error": f"{route} not found"})


class SampleTarget:
    """The sample service's containers, as the load balancer plane's responder.

    ``set_healthy(False)`` makes the app answering for the replacement side (the target group
    the production listener does not forward to) fail ``/health`` with 503; production keeps
    answering, as the running version would.
    """

    def __init__(
        self,
        production_listener_arn: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.production_listener_arn = production_listener_arn
        self.account_id = account_id
        self.region = region
        self._healthy = True
        self._lock = threading.Lock()

    @property
    def healthy(self) -> bool:
        with self._lock:
            return self._healthy

    def set_healthy(self, healthy: bool) -> None:
        with self._lock:
            self._healthy = healthy
        logger.info("sample replacement app is now %s", "healthy" if healthy else "unhealthy")

    def serves_production(self, target_group_arn: str) -> bool:
        listeners = elbv2_backends[self.account_id][self.region].describe_listeners(
            None, [self.production_listener_arn]
        )
        weights = forward_weights(list(listeners[0].default_actions)) if listeners else {}
        return weights.get(target_group_arn, 0) > 0

    def app_for(self, route: Route) -> SampleApp:
        return SampleApp(
            image=route.image,
            task_definition=route.task_definition_arn,
            target_group=route.target_group_name,
            healthy=self.healthy or self.serves_production(route.target_group_arn),
        )

    def respond(self, route: Route, method: str, path: str) -> Reply:
        return self.app_for(route).handle(method, path)
