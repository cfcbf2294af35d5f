"""The sample target of ``bluegreen local serve --sample``: an ECS service to deploy to.

:func:`provision_sample` builds, through the AWS APIs of the local endpoint (as an operator
would on AWS), everything a CodeDeploy ECS blue/green deployment needs: the ECR repository
with a first image, the task definition, the ``CODE_DEPLOY`` service behind an ALB with a
production and a test listener, the two target groups, the service's auto scaling, the
CodeDeploy application and deployment group, and the SES identities the notifications use.
:func:`provision_samples` builds any number of such targets (a benchmark's fleet); the first
is the one above, the others are numbered (``demo-web-2`` in cluster ``demo-2``, ...; see
:class:`SampleNames`). They share the account's roles, VPC and SES identities.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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
# The sample's Slack approver in the local workspace (slack.py): the same person.
SLACK_APPROVER = "U0APPROVER"
SLACK_CHANNEL = "#deploys"
INITIAL_TAG = "initial"
SCALABLE_TARGET = f"service/{CLUSTER}/{SERVICE}"
VPC_CIDR = "10.20.0.0/16"
# The sample's development environment: another account, reached through a role it trusts.
DEV_ACCOUNT_ID = "111111111111"
DEV_ROLE_NAME = "bluegreen-deploy"
DEV_ROLE_ARN = f"arn:aws:iam::{DEV_ACCOUNT_ID}:role/{DEV_ROLE_NAME}"
DEV_CLUSTER = "demo-dev"
DEV_SERVICE = "web"
DEV_ENVIRONMENT = "dev"
PROD_ENVIRONMENT = "prod"
DEV_DESIRED_COUNT = 1
DEV_VPC_CIDR = "10.30.0.0/16"
# The development account's own administrator: who builds its resources (an operator of
# that account), never the app.
DEV_ADMINISTRATOR = "bluegreen-local-admin"

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


@dataclass(frozen=True)
class DevResources:
    """What :func:`provision_dev_account` made in the development account."""

    account_id: str
    role_arn: str  # the role the app deploys through (deploy/target-account-role.yaml)
    execution_role_arn: str
    cluster_name: str
    cluster_arn: str
    service_name: str
    service_arn: str
    task_definition_arn: str
    image: str  # the app account's demo-web image, by digest
    subnet_ids: tuple[str, ...]
    security_group_id: str


@dataclass(frozen=True)
class SampleNames:
    """What one sample target's resources are called.

    The first (``index`` 0) is the contract's: repository ``demo-web``, cluster ``demo``,
    service ``web``. The n-th after it carries ``-n`` (n from 2): repository ``demo-web-2``,
    cluster ``demo-2``, service ``web``, task family ``web-2``, and so on.
    """

    repository: str
    cluster: str
    service: str
    container: str
    family: str
    load_balancer: str
    security_group: str
    blue_target_group: str
    green_target_group: str
    application: str
    deployment_group: str
    scaling_policy: str

    @classmethod
    def numbered(cls, index: int) -> SampleNames:
        if index < 0:
            raise ValueError(f"a sample's index is 0 or more, not {index}")
        suffix = "" if index == 0 else f"-{index + 1}"
        repository = f"{REPOSITORY}{suffix}"
        return cls(
            repository=repository,
            cluster=f"{CLUSTER}{suffix}",
            service=SERVICE,
            container=CONTAINER,
            family=f"{FAMILY}{suffix}",
            load_balancer=f"{LOAD_BALANCER}{suffix}",
            security_group=repository,
            blue_target_group=f"{repository}-blue",
            green_target_group=f"{repository}-green",
            application=f"{APPLICATION}{suffix}",
            deployment_group=f"{DEPLOYMENT_GROUP}{suffix}",
            scaling_policy=f"{repository}-cpu",
        )

    @property
    def scalable_target(self) -> str:
        return f"service/{self.cluster}/{self.service}"


@dataclass(frozen=True)
class _Account:
    """What the sample targets share: the roles, the VPC and its subnets."""

    account_id: str
    execution_role_arn: str
    codedeploy_role_arn: str
    vpc_id: str
    subnet_ids: tuple[str, ...]


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
    (sample,) = provision_samples(
        endpoint_url,
        session=session,
        region_name=region_name,
        listener_ports=[(production_port, test_port)],
    )
    return sample


def provision_samples(
    endpoint_url: str | None = None,
    *,
    session: boto3.session.Session | None = None,
    region_name: str = DEFAULT_REGION,
    listener_ports: Sequence[tuple[int, int]],
) -> list[SampleResources]:
    """One sample target per (production, test) listener port pair, named by its position."""
    # The local endpoint takes any credentials; fixed ones keep a developer's profile out of it.
    session = session or boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
        region_name=region_name,
    )
    where: dict[str, Any] = {"region_name": region_name, "endpoint_url": endpoint_url}
    clients = _Clients(session, where)
    account = _provision_account(clients, region_name)
    samples = [
        _provision_target(clients, account, region_name, SampleNames.numbered(i), ports)
        for i, ports in enumerate(listener_ports)
    ]
    ses = clients("ses")
    for address in (SENDER_EMAIL, APPROVER_EMAIL):
        ses.verify_email_identity(EmailAddress=address)
    return samples


class _Clients:
    """One client per service for the whole provisioning: building one loads its model."""

    def __init__(self, session: boto3.session.Session, where: dict[str, Any]) -> None:
        self._session: Any = session  # boto3-stubs types client() per literal service name
        self._where = where
        self._made: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self._session.client(service, **self._where)
        return self._made[service]


def _provision_account(clients: _Clients, region_name: str) -> _Account:
    iam = clients("iam")
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
    ec2 = clients("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{region_name}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for cidr, zone in (("10.20.1.0/24", "a"), ("10.20.2.0/24", "b"))
    )
    return _Account(
        account_id=clients("sts").get_caller_identity()["Account"],
        execution_role_arn=execution_role,
        codedeploy_role_arn=codedeploy_role,
        vpc_id=vpc_id,
        subnet_ids=subnets,
    )


def _provision_target(
    clients: _Clients,
    account: _Account,
    region_name: str,
    names: SampleNames,
    ports: tuple[int, int],
) -> SampleResources:
    production_port, test_port = ports
    ecr = clients("ecr")
    repository = ecr.create_repository(
        repositoryName=names.repository, imageTagMutability="IMMUTABLE"
    )["repository"]
    image = ecr.put_image(
        repositoryName=names.repository,
        imageManifest=image_manifest(f"{names.repository}:{INITIAL_TAG}"),
        imageManifestMediaType=_DOCKER_MANIFEST,
        imageTag=INITIAL_TAG,
    )["image"]
    digest = image["imageId"]["imageDigest"]
    image_ref = f"{repository['repositoryUri']}@{digest}"

    ec2 = clients("ec2")
    security_group = ec2.create_security_group(
        GroupName=names.security_group,
        Description=f"{names.repository} ALB and tasks",
        VpcId=account.vpc_id,
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=security_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": VPC_CIDR}],
            }
            for port in (CONTAINER_PORT, production_port, test_port)
        ],
    )

    elbv2 = clients("elbv2")
    balancer = elbv2.create_load_balancer(
        Name=names.load_balancer,
        Subnets=list(account.subnet_ids),
        SecurityGroups=[security_group],
        Scheme="internal",
        Type="application",
    )["LoadBalancers"][0]
    blue, green = (
        elbv2.create_target_group(
            Name=name,
            Protocol="HTTP",
            Port=CONTAINER_PORT,
            VpcId=account.vpc_id,
            TargetType="ip",
            HealthCheckPath="/health",
            HealthCheckProtocol="HTTP",
        )["TargetGroups"][0]["TargetGroupArn"]
        for name in (names.blue_target_group, names.green_target_group)
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

    ecs = clients("ecs")
    cluster_arn = ecs.create_cluster(clusterName=names.cluster)["cluster"]["clusterArn"]
    task_definition_arn = ecs.register_task_definition(
        family=names.family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=account.execution_role_arn,
        containerDefinitions=[
            {
                "name": names.container,
                "image": image_ref,
                "essential": True,
                "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    service_arn = ecs.create_service(
        cluster=names.cluster,
        serviceName=names.service,
        taskDefinition=task_definition_arn,
        desiredCount=2,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[
            {
                "targetGroupArn": blue,
                "containerName": names.container,
                "containerPort": CONTAINER_PORT,
            }
        ],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(account.subnet_ids),
                "securityGroups": [security_group],
                "assignPublicIp": "DISABLED",
            }
        },
    )["service"]["serviceArn"]

    scaling = clients("application-autoscaling")
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=names.scalable_target,
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
        PolicyName=names.scaling_policy,
        ServiceNamespace="ecs",
        ResourceId=names.scalable_target,
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

    codedeploy = clients("codedeploy")
    codedeploy.create_application(applicationName=names.application, computePlatform="ECS")
    codedeploy.create_deployment_group(
        applicationName=names.application,
        deploymentGroupName=names.deployment_group,
        serviceRoleArn=account.codedeploy_role_arn,
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
        ecsServices=[{"serviceName": names.service, "clusterName": names.cluster}],
        loadBalancerInfo={
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [
                        {"name": names.blue_target_group},
                        {"name": names.green_target_group},
                    ],
                    "prodTrafficRoute": {"listenerArns": [production]},
                    "testTrafficRoute": {"listenerArns": [test]},
                }
            ]
        },
    )

    logger.info(
        "sample target provisioned: %s/%s behind %s",
        names.cluster,
        names.service,
        names.load_balancer,
    )
    return SampleResources(
        account_id=account.account_id,
        region=region_name,
        repository_name=names.repository,
        repository_uri=repository["repositoryUri"],
        initial_image_tag=INITIAL_TAG,
        initial_image_digest=digest,
        initial_image=image_ref,
        task_definition_arn=task_definition_arn,
        execution_role_arn=account.execution_role_arn,
        cluster_name=names.cluster,
        cluster_arn=cluster_arn,
        service_name=names.service,
        service_arn=service_arn,
        container_name=names.container,
        container_port=CONTAINER_PORT,
        vpc_id=account.vpc_id,
        subnet_ids=account.subnet_ids,
        security_group_id=security_group,
        load_balancer_arn=balancer["LoadBalancerArn"],
        load_balancer_name=names.load_balancer,
        blue_target_group_arn=blue,
        green_target_group_arn=green,
        production_listener_arn=production,
        test_listener_arn=test,
        production_port=production_port,
        test_port=test_port,
        scalable_target_resource_id=names.scalable_target,
        scaling_policy_arn=policy_arn,
        codedeploy_application=names.application,
        deployment_group=names.deployment_group,
        codedeploy_role_arn=account.codedeploy_role_arn,
        sender_email=SENDER_EMAIL,
        approver_email=APPROVER_EMAIL,
    )


def provision_dev_account(
    endpoint_url: str | None,
    sample: SampleResources,
    role_template: Path,
    *,
    session: boto3.session.Session | None = None,
    region_name: str = DEFAULT_REGION,
) -> DevResources:
    """The sample's development environment, in its own account (:data:`DEV_ACCOUNT_ID`).

    Built as that account's administrator would: the role the app deploys through, created
    from the shipped ``deploy/target-account-role.yaml`` (``role_template``) with the
    sample's parameters; a task execution role; a VPC; cluster ``demo-dev`` with service
    ``web`` (the ``ECS`` deployment controller, rolling, with the deployment circuit breaker
    and its rollback) running the app account's first ``demo-web`` image, by digest. On
    the app's side (``session``: the app account's administrator), the ``demo-web``
    repository lets the development account pull.
    """
    from bluegreen_cli.local.target_account import create_target_role, target_role

    where: dict[str, Any] = {"region_name": region_name, "endpoint_url": endpoint_url}
    session = session or boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
        region_name=region_name,
    )
    app = _Clients(session, where)
    # A target account's side of pulling: the app's repository names the accounts it serves.
    app("ecr").set_repository_policy(
        repositoryName=sample.repository_name,
        policyText=json.dumps(repository_pull_policy([DEV_ACCOUNT_ID])),
    )
    key, secret = _account_administrator(DEV_ACCOUNT_ID, region_name)
    # The same session (its service models are loaded), the other account's keys.
    dev = _Clients(session, {**where, "aws_access_key_id": key, "aws_secret_access_key": secret})
    iam = dev("iam")
    execution_role = _execution_role(iam, sample)
    role = target_role(
        role_template,
        DEV_ACCOUNT_ID,
        {
            "AppAccountId": sample.account_id,
            "RoleName": DEV_ROLE_NAME,
            "Services": f"{DEV_CLUSTER}/{DEV_SERVICE}",
            "PassRoleArns": execution_role,
        },
    )
    role_arn = create_target_role(iam, role)

    ec2 = dev("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=DEV_VPC_CIDR)["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{region_name}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for cidr, zone in (("10.30.1.0/24", "a"), ("10.30.2.0/24", "b"))
    )
    security_group = ec2.create_security_group(
        GroupName=f"{DEV_CLUSTER}-{DEV_SERVICE}", Description="demo-dev web tasks", VpcId=vpc_id
    )["GroupId"]

    ecs = dev("ecs")
    cluster_arn = ecs.create_cluster(clusterName=DEV_CLUSTER)["cluster"]["clusterArn"]
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
                "image": sample.initial_image,
                "essential": True,
                "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    service_arn = ecs.create_service(
        cluster=DEV_CLUSTER,
        serviceName=DEV_SERVICE,
        taskDefinition=task_definition_arn,
        desiredCount=DEV_DESIRED_COUNT,
        launchType="FARGATE",
        deploymentController={"type": "ECS"},
        # Rolling: a deployment whose tasks keep failing stops and goes back to the last one
        # that completed.
        deploymentConfiguration={
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(subnets),
                "securityGroups": [security_group],
                "assignPublicIp": "DISABLED",
            }
        },
    )["service"]["serviceArn"]
    logger.info(
        "development account %s provisioned: %s/%s", DEV_ACCOUNT_ID, DEV_CLUSTER, DEV_SERVICE
    )
    return DevResources(
        account_id=DEV_ACCOUNT_ID,
        role_arn=role_arn,
        execution_role_arn=execution_role,
        cluster_name=DEV_CLUSTER,
        cluster_arn=cluster_arn,
        service_name=DEV_SERVICE,
        service_arn=service_arn,
        task_definition_arn=task_definition_arn,
        image=sample.initial_image,
        subnet_ids=subnets,
        security_group_id=security_group,
    )


def repository_pull_policy(accounts: Sequence[str]) -> dict[str, Any]:
    """An ECR repository policy letting ``accounts`` pull its images (what a task execution
    role there needs from the repository's side)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PullFromTargetAccounts",
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{account}:root" for account in accounts]},
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
            }
        ],
    }


def _account_administrator(account_id: str, region_name: str) -> tuple[str, str]:
    """Access keys of an administrator of ``account_id``. An account's first administrator
    is made by its root user, not through the APIs of another account: here, by moto's IAM
    of that account directly. Its keys then act in that account, as on AWS."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["aws"]
    iam.create_user(region_name, DEV_ADMINISTRATOR)
    key = iam.create_access_key(DEV_ADMINISTRATOR)
    return str(key.access_key_id), str(key.secret_access_key)


def _execution_role(iam: Any, sample: SampleResources) -> str:
    """The development tasks' execution role: it pulls the image from the app account's
    registry, by digest (the repository's policy lets this account)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    name = f"{REPOSITORY}-task-execution"
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    repository = (
        f"arn:aws:ecr:{sample.region}:{sample.account_id}:repository/{sample.repository_name}"
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                "Resource": repository,
            },
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    return arn


# How quickly a local deployment of the sample moves: seconds where production waits minutes.
SAMPLE_TIMINGS: Mapping[str, int | float] = {
    "approval_timeout_seconds": 3600,
    "deployment_poll_seconds": 1,
    "deployment_max_polls": 120,
    "probe_interval_seconds": 1,
    "probe_required_passes": 3,
    "probe_max_attempts": 10,
    "probe_request_timeout_seconds": 2.0,
}


def sample_configuration(
    *samples: SampleResources,
    dev: DevResources | None = None,
    timings: Mapping[str, int | float] | None = None,
) -> str:
    """The service configuration (TOML) that deploys the samples, as an installation keeps it.

    Each service is named after its repository. It probes the test listener on the port it
    actually got, and polls every second (``timings``, default :data:`SAMPLE_TIMINGS`) so a
    local deployment takes seconds; the production defaults are minutes. With ``dev``, the
    first sample's pipeline starts there: a rolling deployment in the development account,
    nobody asked, then production (blue/green, approved) with the same digest.
    """
    header = (
        "# The sample target of `bluegreen local serve --sample`. On AWS, an installation keeps "
        "its\n# own configuration in the SSM parameter named by the template's "
        "ServicesParameterName.\n"
    )
    chosen = timings or SAMPLE_TIMINGS
    entries = [
        _service_entry(sample, chosen, dev if index == 0 else None)
        for index, sample in enumerate(samples)
    ]
    return header + "".join(entries)


def _service_entry(
    sample: SampleResources, timings: Mapping[str, int | float], dev: DevResources | None
) -> str:
    name = sample.repository_name
    timing_lines = "".join(f"{key} = {value!r}\n" for key, value in timings.items())
    production = f"""\
cluster = "{sample.cluster_name}"
service = "{sample.service_name}"
codedeploy_application = "{sample.codedeploy_application}"
deployment_group = "{sample.deployment_group}"
approvers = ["{sample.approver_email}"]
# Through the load balancer's test listener, where CodeDeploy puts the new task set first.
test_url = "{sample.test_url}/health"
"""
    shared = f"""\
[services.{name}]
repository = "{sample.repository_name}"
container = "{sample.container_name}"
container_port = {sample.container_port}
"""
    if dev is None:
        where = f'environment = "local"\n{production}'
        pipeline = ""
    else:
        where = ""
        pipeline = f"""
# Every push deploys to development first: ECS's rolling update in another account.
[services.{name}.environments.{DEV_ENVIRONMENT}]
role_arn = "{dev.role_arn}"
cluster = "{dev.cluster_name}"
service = "{dev.service_name}"
method = "rolling"
approvers = []

# Then the same digest, once development succeeded: blue/green, approved by a human.
[services.{name}.environments.{PROD_ENVIRONMENT}]
{production}"""
    return f"""\
{shared}{where}
[services.{name}.slack]
channel = "{SLACK_CHANNEL}"
approvers = ["{SLACK_APPROVER}"]

[services.{name}.timings]
{timing_lines}{pipeline}
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
