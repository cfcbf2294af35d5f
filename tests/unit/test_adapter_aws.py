"""AWS adapters against moto, with real boto3 clients passed in.

Where moto cannot produce an error AWS does (throttling, a busy deployment group), a
botocore Stubber on a real client answers with that error instead.
"""

from __future__ import annotations

import json

import pytest
from bluegreen.adapters.autoscaling import ScalableTargets
from bluegreen.adapters.codedeploy import CodeDeployDeployments
from bluegreen.adapters.ecs import EcsTaskDefinitions
from bluegreen.adapters.notifications import SesMailer
from bluegreen.adapters.secrets import Secrets
from bluegreen.adapters.stepfunctions import Executions, TaskCallbacks
from bluegreen.domain.messages import Email
from bluegreen.domain.taskdef import render
from bluegreen.errors import (
    ApprovalExpired,
    AwsThrottled,
    DeploymentAlreadyActive,
    MailRefused,
    ResourceMissing,
)
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.unit.builders import (
    PREVIOUS_IMAGE,
    ApprovalMachine,
    Aws,
    create_deployment_group,
    create_ecs_service,
    create_pass_machine,
    demo_service,
    register_scalable_target,
    sent_emails,
)

SERVICE = demo_service()
NEW_IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-web@sha256:{'c' * 64}"


# --- ECS ----------------------------------------------------------------------------------


def test_current_is_the_task_definition_the_service_runs_with_its_tags(aws: Aws) -> None:
    ecs = aws.client("ecs")
    arn = create_ecs_service(ecs, SERVICE)

    current = EcsTaskDefinitions(ecs).current("demo", "web")

    assert current["taskDefinitionArn"] == arn
    assert current["containerDefinitions"][0]["image"] == PREVIOUS_IMAGE
    assert current["tags"] == [{"key": "team", "value": "web"}]


def test_a_rendered_revision_registers_as_the_next_revision(aws: Aws) -> None:
    ecs = aws.client("ecs")
    create_ecs_service(ecs, SERVICE)
    adapter = EcsTaskDefinitions(ecs)
    definition, _ = render(adapter.current("demo", "web"), "web", NEW_IMAGE)

    arn = adapter.register(definition)

    assert arn.endswith(":task-definition/web:2")
    registered = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert registered["containerDefinitions"][0]["image"] == NEW_IMAGE


@pytest.mark.parametrize(("cluster", "service"), [("demo", "api"), ("elsewhere", "web")])
def test_a_missing_service_or_cluster_is_a_missing_resource(
    aws: Aws, cluster: str, service: str
) -> None:
    create_ecs_service(aws.client("ecs"), SERVICE)

    with pytest.raises(ResourceMissing):
        EcsTaskDefinitions(aws.client("ecs")).current(cluster, service)


def test_a_deleted_service_is_a_missing_resource(aws: Aws) -> None:
    ecs = aws.client("ecs")
    create_ecs_service(ecs, SERVICE)
    ecs.delete_service(cluster="demo", service="web", force=True)

    with pytest.raises(ResourceMissing, match="demo/web"):
        EcsTaskDefinitions(ecs).current("demo", "web")


# --- CodeDeploy ---------------------------------------------------------------------------


def test_the_deployment_group_is_read_with_its_ready_option(aws: Aws) -> None:
    create_deployment_group(aws.client("codedeploy"), SERVICE)

    group = CodeDeployDeployments(aws.client("codedeploy")).group("demo-web", "demo-web")

    ready = group["blueGreenDeploymentConfiguration"]["deploymentReadyOption"]
    assert ready["actionOnTimeout"] == "STOP_DEPLOYMENT"


@pytest.mark.parametrize(("application", "group"), [("demo-web", "nope"), ("nope", "demo-web")])
def test_a_missing_application_or_group_is_a_missing_resource(
    aws: Aws, application: str, group: str
) -> None:
    create_deployment_group(aws.client("codedeploy"), SERVICE)
    deployments = CodeDeployDeployments(aws.client("codedeploy"))

    with pytest.raises(ResourceMissing):
        deployments.group(application, group)
    with pytest.raises(ResourceMissing):
        deployments.create(application, group, "{}", "0" * 64, None, "bluegreen test")


def test_a_created_deployment_is_active_in_its_group(aws: Aws) -> None:
    cd = aws.client("codedeploy")
    create_deployment_group(cd, SERVICE)
    deployments = CodeDeployDeployments(cd)

    deployment_id = deployments.create(
        "demo-web", "demo-web", '{"version": 0.0}', "0" * 64, None, "x" * 300
    )

    info = deployments.get(deployment_id)
    assert info["status"] == "Created"
    assert info["deploymentGroupName"] == "demo-web"
    assert len(info["description"]) <= 100  # CodeDeploy's limit
    assert deployments.active("demo-web", "demo-web") == [deployment_id]


def test_an_unknown_deployment_is_a_missing_resource(aws: Aws) -> None:
    create_deployment_group(aws.client("codedeploy"), SERVICE)

    with pytest.raises(ResourceMissing):
        CodeDeployDeployments(aws.client("codedeploy")).get("d-UNKNOWN00")


def stubbed_error(aws: Aws, service: str, operation: str, code: str) -> tuple[object, Stubber]:
    client = aws.fresh(service)
    stubber = Stubber(client)
    stubber.add_client_error(operation, service_error_code=code, service_message=f"{code}!")
    stubber.activate()
    return client, stubber


def test_a_busy_deployment_group_is_deployment_already_active(aws: Aws) -> None:
    client, stubber = stubbed_error(
        aws, "codedeploy", "create_deployment", "DeploymentLimitExceededException"
    )

    with stubber, pytest.raises(DeploymentAlreadyActive):
        CodeDeployDeployments(client).create("demo-web", "demo-web", "{}", "0" * 64, None, "d")


@pytest.mark.parametrize("code", ["ThrottlingException", "RateExceeded", "Throttling"])
def test_throttling_is_retryable(aws: Aws, code: str) -> None:
    client, stubber = stubbed_error(aws, "codedeploy", "get_deployment", code)

    with stubber, pytest.raises(AwsThrottled):
        CodeDeployDeployments(client).get("d-ABC")


def test_other_aws_errors_are_not_disguised(aws: Aws) -> None:
    client, stubber = stubbed_error(aws, "codedeploy", "create_deployment", "InvalidRoleException")

    with stubber, pytest.raises(ClientError, match="InvalidRoleException"):
        CodeDeployDeployments(client).create("demo-web", "demo-web", "{}", "0" * 64, None, "d")


# --- Application Auto Scaling -------------------------------------------------------------


def test_an_unregistered_target_is_none(aws: Aws) -> None:
    create_ecs_service(aws.client("ecs"), SERVICE)

    assert (
        ScalableTargets(aws.client("application-autoscaling")).describe("service/demo/web") is None
    )


def test_suspended_state_round_trips_and_capacity_is_untouched(aws: Aws) -> None:
    create_ecs_service(aws.client("ecs"), SERVICE)
    aas = aws.client("application-autoscaling")
    register_scalable_target(aas, SERVICE)
    targets = ScalableTargets(aas)
    partly = {
        "DynamicScalingInSuspended": True,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": True,
    }

    targets.set_suspended("service/demo/web", partly)

    found = targets.describe("service/demo/web")
    assert found is not None
    assert found["SuspendedState"] == partly
    assert (found["MinCapacity"], found["MaxCapacity"]) == (2, 10)


# --- Step Functions -----------------------------------------------------------------------


def test_starting_a_new_execution(aws: Aws) -> None:
    sfn = aws.client("stepfunctions")
    machine = create_pass_machine(sfn)

    arn, started = Executions(sfn, machine).start("demo-web-abc", {"b": 2, "a": 1})

    assert started is True
    described = sfn.describe_execution(executionArn=arn)
    assert described["name"] == "demo-web-abc"
    assert json.loads(described["input"]) == {"a": 1, "b": 2}


def test_starting_the_same_name_again_is_a_duplicate_not_an_error(aws: Aws) -> None:
    sfn = aws.client("stepfunctions")
    machine = create_pass_machine(sfn)
    executions = Executions(sfn, machine)
    first, _ = executions.start("demo-web-abc", {"requested_at": "09:30"})

    again, started = executions.start("demo-web-abc", {"requested_at": "09:31"})

    assert started is False
    assert again == first
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


def test_throttled_start_is_retryable(aws: Aws) -> None:
    client, stubber = stubbed_error(aws, "stepfunctions", "start_execution", "ThrottlingException")
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen-deploy"

    with stubber, pytest.raises(AwsThrottled):
        Executions(client, machine).start("demo-web-abc", {})


def test_a_missing_state_machine_is_not_taken_for_a_duplicate(aws: Aws) -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:missing"

    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        Executions(aws.client("stepfunctions"), machine).start("demo-web-abc", {})


@pytest.fixture
def approval_machine(aws: Aws) -> ApprovalMachine:
    return ApprovalMachine.create(aws.client("stepfunctions"), aws.client("sqs"))


def test_a_success_callback_moves_the_execution_on(
    aws: Aws, approval_machine: ApprovalMachine
) -> None:
    execution, token = approval_machine.start({"service": "demo-web"})

    TaskCallbacks(aws.client("stepfunctions")).succeed(token, {"decision": "approved"})

    described = approval_machine.finished(execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["approval"] == {"decision": "approved"}


def test_a_failure_callback_fails_the_execution_with_the_named_error(
    aws: Aws, approval_machine: ApprovalMachine
) -> None:
    execution, token = approval_machine.start({"service": "demo-web"})

    TaskCallbacks(aws.client("stepfunctions")).fail(token, "ApprovalRejected", "rejected by a")

    described = approval_machine.finished(execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "ApprovalRejected"


def test_a_failure_callback_sends_the_error_and_its_cause(aws: Aws) -> None:
    # moto's history drops the cause; the request itself shows it is sent.
    client = aws.fresh("stepfunctions")
    stubber = Stubber(client)
    expected = {"taskToken": "token", "error": "ApprovalRejected", "cause": "rejected by a"}
    stubber.add_response("send_task_failure", {}, expected_params=expected)

    with stubber:
        TaskCallbacks(client).fail("token", "ApprovalRejected", "rejected by a")
    stubber.assert_no_pending_responses()


def test_an_unknown_token_is_an_expired_approval(aws: Aws) -> None:
    callbacks = TaskCallbacks(aws.client("stepfunctions"))

    with pytest.raises(ApprovalExpired):
        callbacks.succeed("not-a-token-step-functions-knows", {"decision": "approved"})
    with pytest.raises(ApprovalExpired):
        callbacks.fail("not-a-token-step-functions-knows", "ApprovalRejected", "no")


def test_a_token_past_its_task_timeout_is_an_expired_approval(aws: Aws) -> None:
    machine = ApprovalMachine.create(
        aws.client("stepfunctions"), aws.client("sqs"), timeout_seconds=1
    )
    execution, token = machine.start({"service": "demo-web"})
    assert machine.finished(execution)["status"] in ("FAILED", "TIMED_OUT")

    with pytest.raises(ApprovalExpired):
        TaskCallbacks(aws.client("stepfunctions")).succeed(token, {"decision": "approved"})


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_every_dead_token_answer_is_an_expired_approval(aws: Aws, code: str) -> None:
    client, stubber = stubbed_error(aws, "stepfunctions", "send_task_success", code)

    with stubber, pytest.raises(ApprovalExpired):
        TaskCallbacks(client).succeed("token", {"decision": "approved"})


# --- SES and Secrets Manager --------------------------------------------------------------


def test_mail_is_sent_from_the_verified_sender(aws: Aws) -> None:
    ses = aws.client("ses")
    ses.verify_email_identity(EmailAddress="bluegreen@example.com")
    email = Email(to=["a@example.com"], subject="Approve demo-web?", text="Review: https://x/y")

    message_id = SesMailer(ses, "bluegreen@example.com").send(email)

    (sent,) = sent_emails()
    assert sent.id == message_id
    assert sent.source == "bluegreen@example.com"
    assert sent.destinations["ToAddresses"] == ["a@example.com"]
    assert sent.subject == "Approve demo-web?"
    assert sent.body == "Review: https://x/y"


def test_a_message_ses_rejects_is_refused_in_words_that_quote_nothing_of_aws(aws: Aws) -> None:
    """SES: an unverified identity answers MessageRejected; the reason names the sandbox
    and carries none of AWS's message (which quotes addresses)."""
    email = Email(to=["a@example.com"], subject="s", text="t")

    with pytest.raises(MailRefused) as raised:
        SesMailer(aws.client("ses"), "nobody@example.com").send(email)

    assert raised.value.reason.startswith("SES rejected the message (in the SES sandbox")
    assert "@" not in raised.value.reason
    assert isinstance(raised.value.__cause__, ClientError)
    assert sent_emails() == []


def test_a_secret_is_read_once_per_cold_start(aws: Aws) -> None:
    sm = aws.client("secretsmanager")
    arn = sm.create_secret(Name="bluegreen/signing", SecretString="key-1")["ARN"]
    secrets = Secrets(sm)

    assert secrets.get(arn) == "key-1"
    sm.put_secret_value(SecretId=arn, SecretString="key-2")
    assert secrets.get(arn) == "key-1"
    assert Secrets(sm).get(arn) == "key-2"  # the next cold start sees the rotation


def test_an_optional_secret_that_does_not_exist_turns_the_feature_off(aws: Aws) -> None:
    secrets = Secrets(aws.client("secretsmanager"))

    assert secrets.get_optional("bluegreen/slack-webhook") is None
    assert secrets.get_optional("") is None


def test_a_required_secret_that_does_not_exist_is_an_error(aws: Aws) -> None:
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        Secrets(aws.client("secretsmanager")).get("bluegreen/signing")


def test_an_optional_secret_the_role_may_not_read_turns_the_feature_off(aws: Aws) -> None:
    # Secrets Manager answers AccessDeniedException, not ResourceNotFoundException, when the
    # caller's policy does not cover the secret, even when it does not exist.
    from botocore.stub import Stubber

    sm = aws.client("secretsmanager")
    with Stubber(sm) as answers:
        answers.add_client_error(
            "get_secret_value",
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:sts::123456789012:assumed-role/r/f is not authorized",
            http_status_code=400,
        )
        answers.add_client_error(
            "get_secret_value", service_error_code="InternalServiceError", http_status_code=500
        )
        assert Secrets(sm).get_optional("bluegreen/slack-webhook") is None
        with pytest.raises(ClientError, match="InternalServiceError"):
            Secrets(sm).get_optional("bluegreen/slack-webhook")
