"""The sample's development account, 111111111111, reached as on AWS: through its role.

moto keeps resources per account and makes credentials from STS AssumeRole act in the
role's account; the local rights decide AssumeRole (the caller's own policy and the role's
trust) and every call made with its credentials (the role's policies, in its account).
Each test names the AWS behaviour it reproduces.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from bluegreen_cli.local.rights.assumed import MotoSessions
from bluegreen_cli.local.rights.identity import function_credentials
from bluegreen_cli.local.sample import (
    DEV_ACCOUNT_ID,
    DEV_ADMINISTRATOR,
    DEV_CLUSTER,
    DEV_ROLE_ARN,
    DEV_SERVICE,
)
from bluegreen_cli.local.server import LocalStack
from bluegreen_cli.local.target_account import (
    TARGET_ROLE_TEMPLATE,
    create_target_role,
    target_role,
)
from bluegreen_cli.main import app
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from tests.unit.local.localstack_support import PROJECT_ROOT

APP_ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    moto_log = logging.getLogger("moto")
    saved = moto_log.level
    moto_log.setLevel(logging.CRITICAL)
    try:
        with LocalStack(port=0, sample=True, function_environment=quiet) as running:
            yield running
    finally:
        moto_log.setLevel(saved)


def client(stack: LocalStack, service: str, credentials: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


def as_function(stack: LocalStack, logical_id: str, service: str) -> Any:
    assert stack.app is not None
    return stack.function_client(service, stack.app.functions[logical_id])


def assumed(sts: Any, session: str, role_arn: str = DEV_ROLE_ARN, **extra: str) -> dict[str, Any]:
    answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session, **extra)
    return dict(answer["Credentials"])


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: Any = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_the_role_is_the_shipped_templates_with_the_samples_parameters(
    stack: LocalStack,
) -> None:
    """What CloudFormation would create in that account from deploy/target-account-role.yaml."""
    found = MotoSessions().role(DEV_ROLE_ARN)
    expected = target_role(
        PROJECT_ROOT / TARGET_ROLE_TEMPLATE,
        DEV_ACCOUNT_ID,
        {
            "AppAccountId": APP_ACCOUNT,
            "RoleName": "bluegreen-deploy",
            "Services": f"{DEV_CLUSTER}/{DEV_SERVICE}",
            "PassRoleArns": stack.dev.execution_role_arn,
        },
    )

    assert found is not None
    assert stack.dev.role_arn == DEV_ROLE_ARN == found.role.arn
    assert found.trust == expected.trust
    assert {p.name: p.document for p in found.role.policies} == expected.policies


def test_an_operator_assuming_the_role_sees_the_dev_service(stack: LocalStack) -> None:
    """STS AssumeRole: the credentials act in the role's account (GetCallerIdentity names
    the assumed-role session there). The dev service is rolling (the ECS controller), runs
    one task of family web whose container runs the app account's image, by digest."""
    credentials = assumed(stack.client("sts"), "operator")

    identity = client(stack, "sts", credentials).get_caller_identity()
    ecs = client(stack, "ecs", credentials)
    (service,) = ecs.describe_services(cluster=DEV_CLUSTER, services=[DEV_SERVICE])["services"]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])

    assert identity["Account"] == DEV_ACCOUNT_ID
    assert (
        identity["Arn"] == f"arn:aws:sts::{DEV_ACCOUNT_ID}:assumed-role/bluegreen-deploy/operator"
    )
    assert service["serviceArn"] == f"arn:aws:ecs:us-east-1:{DEV_ACCOUNT_ID}:service/demo-dev/web"
    assert service["deploymentController"] == {"type": "ECS"}
    assert service["desiredCount"] == 1
    (container,) = definition["taskDefinition"]["containerDefinitions"]
    assert definition["taskDefinition"]["family"] == "web"
    assert container["name"] == "web"
    assert container["image"] == stack.sample.initial_image
    assert container["image"].startswith(f"{APP_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/demo-web@")


def test_the_apps_repository_lets_the_dev_account_pull(stack: LocalStack) -> None:
    policy = json.loads(
        stack.client("ecr").get_repository_policy(repositoryName="demo-web")["policyText"]
    )
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{DEV_ACCOUNT_ID}:root"]}
    assert sorted(statement["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]


def test_a_function_that_may_assume_the_role_acts_in_the_dev_account_only(
    stack: LocalStack,
) -> None:
    """Cross-account AssumeRole: Render's policy allows sts:AssumeRole on the role
    (TargetRoleArns) and the role trusts the app's account. What it registers with the
    credentials is the dev account's; the app account's family web gains nothing."""
    app_ecs = stack.client("ecs")
    app_revisions = app_ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    credentials = assumed(as_function(stack, "RenderFunction", "sts"), "bluegreen-Render")
    ecs = client(stack, "ecs", credentials)

    registered = ecs.register_task_definition(
        family="web",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=stack.dev.execution_role_arn,  # passed to ECS tasks: allowed
        containerDefinitions=[{"name": "web", "image": stack.sample.initial_image}],
        tags=[{"key": "bluegreen:execution", "value": "unit"}],  # tag-on-create: allowed
    )["taskDefinition"]

    assert registered["taskDefinitionArn"].startswith(
        f"arn:aws:ecs:us-east-1:{DEV_ACCOUNT_ID}:task-definition/web:"
    )
    assert app_ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == app_revisions


def test_a_function_without_the_right_is_refused_assume_role(stack: LocalStack) -> None:
    """Cross-account AssumeRole needs the caller's own sts:AssumeRole on the role: the
    role's trust of the app's account is not enough. STS: AccessDenied, 403."""
    with pytest.raises(ClientError) as raised:
        assumed(as_function(stack, "NotifyFunction", "sts"), "bluegreen-Notify")

    code, message, status = error(raised)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:sts::{APP_ACCOUNT}:assumed-role/bluegreen-NotifyFunctionRole/"
        f"bluegreen-NotifyFunction is not authorized to perform: sts:AssumeRole on resource: "
        f"{DEV_ROLE_ARN} because no identity-based policy allows the sts:AssumeRole action"
    )


@pytest.fixture(scope="module")
def guarded_role(stack: LocalStack) -> str:
    """A second role from the template, asking for an external id, made by the dev
    account's administrator."""
    from moto.iam.models import iam_backends

    key = iam_backends[DEV_ACCOUNT_ID]["aws"].create_access_key(DEV_ADMINISTRATOR)
    iam = client(
        stack, "iam", {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}
    )
    role = target_role(
        PROJECT_ROOT / TARGET_ROLE_TEMPLATE,
        DEV_ACCOUNT_ID,
        {
            "AppAccountId": APP_ACCOUNT,
            "RoleName": "bluegreen-deploy-guarded",
            "Services": "demo-dev/*",
            "ExternalId": "tenant-42",
        },
    )
    return create_target_role(iam, role)


def test_a_role_asking_for_an_external_id_refuses_a_wrong_or_missing_one(
    stack: LocalStack, guarded_role: str
) -> None:
    """Trust condition sts:ExternalId (StringEquals): the same value only. STS's denial
    names the caller and the role, and no reason."""
    sts = stack.client("sts")  # the administrator: its own policy allows any role

    assert assumed(sts, "right", guarded_role, ExternalId="tenant-42")["AccessKeyId"]
    for extra in ({"ExternalId": "tenant-43"}, {}):
        with pytest.raises(ClientError) as raised:
            assumed(sts, "wrong", guarded_role, **extra)
        assert error(raised) == (
            "AccessDenied",
            f"User: arn:aws:iam::{APP_ACCOUNT}:root is not authorized to perform: "
            f"sts:AssumeRole on resource: {guarded_role}",
            403,
        )


def test_calls_outside_the_roles_policy_are_refused_naming_the_session(
    stack: LocalStack,
) -> None:
    """The session's calls are authorized against the role's policies, on the role's
    account's resources: a service it does not list (here the name of the app account's
    production service, which these credentials cannot reach anyway) is refused, and the
    denial names arn:aws:sts::111111111111:assumed-role/bluegreen-deploy/<session>."""
    credentials = assumed(as_function(stack, "RenderFunction", "sts"), "bluegreen-Render")
    ecs = client(stack, "ecs", credentials)

    with pytest.raises(ClientError) as raised:
        ecs.update_service(cluster="demo", service="web", desiredCount=3)

    code, message, status = error(raised)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: arn:aws:sts::{DEV_ACCOUNT_ID}:assumed-role/bluegreen-deploy/bluegreen-Render "
        f"is not authorized to perform: ecs:UpdateService on resource: "
        f"arn:aws:ecs:us-east-1:{DEV_ACCOUNT_ID}:service/demo/web because no identity-based "
        "policy allows the ecs:UpdateService action"
    )
    with pytest.raises(ClientError) as other:
        ecs.create_cluster(clusterName="mine")
    assert error(other)[1].endswith(
        "because no identity-based policy allows the ecs:CreateCluster action"
    )
    (production,) = stack.client("ecs").describe_services(cluster="demo", services=["web"])[
        "services"
    ]
    assert production["desiredCount"] == 2


def test_the_operators_diff_reads_the_dev_environment_through_its_role(
    stack: LocalStack, tmp_path: Path
) -> None:
    """The CLI user assumes the environment's role, as the functions do."""
    services = tmp_path / "services.toml"
    services.write_text(
        f"""
[services.demo-web-dev]
repository = "demo-web"
environment = "dev"
role_arn = "{DEV_ROLE_ARN}"
cluster = "{DEV_CLUSTER}"
service = "{DEV_SERVICE}"
method = "rolling"
container = "web"
container_port = 8080
approvers = []
tag_pattern = "^initial$"
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app,
        [
            "diff",
            "demo-web-dev",
            "--tag",
            "initial",
            "--json",
            "--endpoint-url",
            stack.endpoint_url,
            "--services-file",
            str(services),
        ],
        env={"AWS_ACCESS_KEY_ID": "operator", "AWS_SECRET_ACCESS_KEY": "operator"},
    )

    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["running_task_definition"] == stack.dev.task_definition_arn
    assert shown["running_task_definition"].startswith(f"arn:aws:ecs:us-east-1:{DEV_ACCOUNT_ID}:")


def test_function_keys_are_not_the_administrators(stack: LocalStack) -> None:
    assert stack.rights is not None
    key = function_credentials("RenderFunction")["AWS_ACCESS_KEY_ID"]
    assert stack.rights.principal(key) is not None
    assert stack.rights.principal("operator") is None
