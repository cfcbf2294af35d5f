"""The rights each function gets from the real template.yaml, as the deployed stack has them.

Each case names the AWS behaviour the product relies on; a denial here is what the same call
would meet on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bluegreen_cli.local.intrinsics import Resolver, TemplateError
from bluegreen_cli.local.rights.calls import AwsCall
from bluegreen_cli.local.rights.identity import STATE_MACHINE_ACCESS_KEY, function_credentials
from bluegreen_cli.local.rights.roles import (
    check_managed_policy_quota,
    compile_roles,
    sam_transform,
)
from bluegreen_cli.local.server import LocalStack

from tests.unit.local.localstack_support import PROJECT_ROOT

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(port=0, project_root=PROJECT_ROOT) as running:
        yield running


def call(function: str, service: str, operation: str, **params: object) -> AwsCall:
    key = function_credentials(function)["AWS_ACCESS_KEY_ID"]
    return AwsCall(key, service, operation, dict(params))


def denied_action(stack: LocalStack, c: AwsCall) -> str | None:
    assert stack.rights is not None
    denial = stack.rights.check(c)
    return None if denial is None else denial.need.action


def test_render_may_register_a_tagged_revision_tag_on_create_included(stack: LocalStack) -> None:
    # ECS authorizes tag-on-create: RegisterTaskDefinition with tags also needs
    # ecs:TagResource on the new revision (ecs:CreateAction = RegisterTaskDefinition).
    register = call(
        "RenderFunction",
        "ecs",
        "RegisterTaskDefinition",
        family="web",
        containerDefinitions=[{"name": "web", "image": "x"}],
        tags=[{"key": "bluegreen:execution", "value": "e1"}],
        taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-task",
    )
    assert denied_action(stack, register) is None
    # ...but not tag a task definition on its own: the statement's ecs:CreateAction
    # condition has no key to match, on the very ARN it allows.
    tag = call(
        "RenderFunction",
        "ecs",
        "TagResource",
        resourceArn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:1",
        tags=[{"key": "bluegreen:execution", "value": "e1"}],
    )
    assert stack.rights is not None
    assert [n.resource for n in stack.rights.needs(tag)] == [tag.params["resourceArn"]]
    assert denied_action(stack, tag) == "ecs:TagResource"


def test_render_passes_task_roles_only_to_ecs_tasks(stack: LocalStack) -> None:
    # Registering a task definition with roles passes them (iam:PassRole); the template's
    # iam:PassedToService condition holds for ECS tasks.
    register = call(
        "RenderFunction",
        "ecs",
        "RegisterTaskDefinition",
        family="web",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-exec",
    )
    assert denied_action(stack, register) is None
    assert stack.rights is not None
    needs = [n.action for n in stack.rights.needs(register)]
    assert needs == ["ecs:RegisterTaskDefinition", "iam:PassRole"]


def test_a_missing_secret_the_role_may_not_read_is_access_denied(stack: LocalStack) -> None:
    # Secrets Manager answers AccessDeniedException, not ResourceNotFoundException, when the
    # caller's policy does not cover the secret, even if it does not exist. The policy names
    # the secret with "-??????", which a bare name never matches.
    read = call(
        "RequestApprovalFunction", "secretsmanager", "GetSecretValue", SecretId="nope/absent"
    )
    assert denied_action(stack, read) == "secretsmanager:GetSecretValue"


def test_the_approval_signing_secret_is_readable_by_its_readers_only(stack: LocalStack) -> None:
    assert stack.app is not None
    secret = str(stack.app.refs["ApprovalSigningSecret"])
    for reader in ("ApprovalApiFunction", "RequestApprovalFunction"):
        assert (
            denied_action(stack, call(reader, "secretsmanager", "GetSecretValue", SecretId=secret))
            is None
        )
    read = call("RenderFunction", "secretsmanager", "GetSecretValue", SecretId=secret)
    assert denied_action(stack, read) == "secretsmanager:GetSecretValue"


def test_only_the_trigger_reads_the_service_configuration_and_only_that_parameter(
    stack: LocalStack,
) -> None:
    """SSM: ssm:GetParameter is authorized against parameter/<name without its leading />."""
    assert stack.app is not None
    name = str(stack.app.parameters["ServicesParameterName"])
    assert name.startswith("/")

    assert denied_action(stack, call("TriggerFunction", "ssm", "GetParameter", Name=name)) is None
    for other in ("/bluegreen/services-old", "/other/services", "/bluegreen"):
        read = call("TriggerFunction", "ssm", "GetParameter", Name=other)
        assert denied_action(stack, read) == "ssm:GetParameter", other
    read = call("RequestApprovalFunction", "ssm", "GetParameter", Name=name)
    assert denied_action(stack, read) == "ssm:GetParameter"


def test_the_state_machine_invokes_its_steps_and_nothing_else(stack: LocalStack) -> None:
    assert stack.app is not None
    for logical_id in ("RenderFunction", "NotifyFunction", "RollbackFunction"):
        invoke = AwsCall(
            STATE_MACHINE_ACCESS_KEY,
            "lambda",
            "InvokeFunction",
            {"FunctionName": stack.app.functions[logical_id].arn},
        )
        assert denied_action(stack, invoke) is None
    trigger = AwsCall(
        STATE_MACHINE_ACCESS_KEY,
        "lambda",
        "InvokeFunction",
        {"FunctionName": stack.app.functions["TriggerFunction"].arn},
    )
    assert denied_action(stack, trigger) == "lambda:InvokeFunction"


def test_no_role_passes_the_managed_policies_quota(stack: LocalStack) -> None:
    # IAM: at most 10 managed policies per role by default (PoliciesPerRole).
    assert stack.app is not None
    for role in stack.app.roles.values():
        assert len([p for p in role.policies if p.kind != "inline"]) <= 10, role.logical_id


ELEVEN_POLICIES = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    CodeUri: functions/step/
Resources:
{functions}
  Machine:
    Type: AWS::Serverless::StateMachine
    Connectors:
      Invoke:
        Properties:
          Destination:
{destinations}
          Permissions: [Write]
    Properties:
      Tracing: {{Enabled: true}}
      Definition: {{StartAt: Done, States: {{Done: {{Type: Succeed}}}}}}
"""


def test_a_role_with_eleven_managed_policies_is_refused_as_cloudformation_does(
    tmp_path: Path,
) -> None:
    # A connector to ten functions attaches ten managed policies; Tracing adds an eleventh.
    # CloudFormation fails with "Cannot exceed quota for PoliciesPerRole: 10".
    template = tmp_path / "template.yaml"
    template.write_text(
        ELEVEN_POLICIES.format(
            functions="\n".join(
                f"  Step{i}Function:\n    Type: AWS::Serverless::Function" for i in range(10)
            ),
            destinations="\n".join(f"            - Id: Step{i}Function" for i in range(10)),
        )
    )
    resolver = Resolver(
        parameters={},
        ref=lambda name: name,
        get_att=lambda name, attribute: f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
    )
    roles = compile_roles(sam_transform(template), resolver.resolve)
    with pytest.raises(
        TemplateError, match=r"MachineRole: Cannot exceed quota for PoliciesPerRole: 10 \(11"
    ):
        check_managed_policy_quota(roles.values())


def test_app_route_shows_each_function_role_and_what_it_may_do(stack: LocalStack) -> None:
    assert stack.rights is not None
    described = stack.rights.describe()
    render = described["RenderFunction"]
    assert render["principal"].endswith(
        ":assumed-role/bluegreen-RenderFunctionRole/bluegreen-RenderFunction"
    )
    actions = {
        action
        for policy in render["policies"]
        for statement in policy["statements"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert {"ecs:RegisterTaskDefinition", "ecs:TagResource", "iam:PassRole"} <= actions
