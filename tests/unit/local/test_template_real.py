"""The app's own template.yaml, created on the local stack: what exists is what it declares."""

from __future__ import annotations

import json
import string
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from bluegreen_cli.local.async_invoke import EventInvokeConfig
from bluegreen_cli.local.sample import image_manifest
from bluegreen_cli.local.server import LocalStack
from bluegreen_cli.local.template import read_template

from tests.unit.local.localstack_support import PROJECT_ROOT, get_json, wait_for

TEMPLATE = read_template(PROJECT_ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
COMMIT = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(port=0, sample=True, project_root=PROJECT_ROOT) as running:
        yield running


def test_every_function_exists_as_declared(stack: LocalStack) -> None:
    lambda_ = stack.client("lambda")
    assert stack.app is not None
    for logical_id, resource in FUNCTIONS.items():
        properties = resource["Properties"]
        name = stack.app.refs[logical_id]  # its FunctionName, else one made from the stack's
        configuration = lambda_.get_function(FunctionName=name)["Configuration"]
        assert configuration["Handler"] == properties["Handler"]
        assert configuration["Runtime"] == properties["Runtime"]
        assert configuration["Architectures"] == properties["Architectures"]
        assert configuration["Timeout"] == properties["Timeout"]
        assert configuration["MemorySize"] == properties["MemorySize"]
        variables = configuration["Environment"]["Variables"]
        # Globals and the function's own variables, every one of them.
        assert set(variables) == set(properties["Environment"]["Variables"])
        assert variables["POWERTOOLS_SERVICE_NAME"] == "bluegreen"
        local = stack.app.functions[logical_id] if stack.app else None
        assert local is not None
        assert local.code_dir == (PROJECT_ROOT / properties["CodeUri"]).resolve()
        assert (local.code_dir / "app.py").is_file()


def test_references_resolve_to_the_local_resources(stack: LocalStack) -> None:
    assert stack.app is not None
    environment = {k: f.environment for k, f in stack.app.functions.items()}
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen-deploy"

    assert environment["TriggerFunction"]["STATE_MACHINE_ARN"] == machine
    assert environment["RequestApprovalFunction"]["APPROVAL_BASE_URL"] == stack.endpoint_url
    assert environment["RequestApprovalFunction"]["SENDER_EMAIL"] == "bluegreen@example.com"
    table = environment["SuspendScalingFunction"]["TABLE_NAME"]
    assert table in stack.client("dynamodb").list_tables()["TableNames"]
    topic = environment["NotifyFunction"]["TOPIC_ARN"]
    assert topic in [t["TopicArn"] for t in stack.client("sns").list_topics()["Topics"]]


def test_the_event_targets_async_failures_go_to_the_failed_events_queue(
    stack: LocalStack,
) -> None:
    assert stack.app is not None
    queue = stack.app.arns["FailedEventsQueue"]
    for logical_id in ("TriggerFunction", "JanitorFunction"):
        function = stack.app.functions[logical_id]
        config = EventInvokeConfig.from_properties(function.event_invoke_config)
        assert config.on_failure == queue, logical_id
        assert config.maximum_retry_attempts == 2, logical_id


def test_the_table_has_the_declared_keys_and_ttl(stack: LocalStack) -> None:
    assert stack.app is not None
    declared = RESOURCES["StateTable"]["Properties"]
    dynamodb = stack.client("dynamodb")
    name = stack.app.refs["StateTable"]

    table = dynamodb.describe_table(TableName=name)["Table"]

    assert table["KeySchema"] == declared["KeySchema"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_the_state_machine_is_the_asl_file_with_its_substitutions(stack: LocalStack) -> None:
    machines = stack.client("stepfunctions").list_state_machines()["stateMachines"]
    (machine,) = [m for m in machines if "deploy" in m["name"]]
    definition = stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=machine["stateMachineArn"]
    )["definition"]

    assert machine["name"] == "bluegreen-deploy"
    assert "${" not in definition
    substitutions = RESOURCES["DeployStateMachine"]["Properties"]["DefinitionSubstitutions"]
    for key in substitutions:
        function = key.removesuffix("Arn")
        assert f"function:bluegreen-{function}" in definition
    asl = json.loads((PROJECT_ROOT / "statemachine" / "deploy.asl.json").read_text())
    assert json.loads(definition)["StartAt"] == asl["StartAt"]


def test_the_rules_carry_the_declared_patterns(stack: LocalStack) -> None:
    events = stack.client("events")
    trigger = events.describe_rule(Name="bluegreen-TriggerFunctionEcrPush")
    janitor = events.describe_rule(Name="bluegreen-JanitorFunctionExecutionEndedWithoutCleanup")

    declared = FUNCTIONS["TriggerFunction"]["Properties"]["Events"]["EcrPush"]["Properties"]
    assert json.loads(trigger["EventPattern"]) == declared["Pattern"]
    declared = FUNCTIONS["JanitorFunction"]["Properties"]["Events"]["ExecutionEndedWithoutCleanup"][
        "Properties"
    ]["Pattern"]
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen-deploy"
    assert json.loads(janitor["EventPattern"])["detail"] == {
        **declared["detail"],
        "stateMachineArn": [machine],  # the !Ref, resolved
    }
    (target,) = events.list_targets_by_rule(Rule="bluegreen-TriggerFunctionEcrPush")["Targets"]
    assert target["Arn"].endswith(":function:bluegreen-TriggerFunction")


def test_secrets_and_sender_are_ready_for_the_functions(stack: LocalStack) -> None:
    assert stack.app is not None
    secrets = stack.client("secretsmanager")
    signing = secrets.get_secret_value(SecretId=stack.app.refs["ApprovalSigningSecret"])
    token = secrets.get_secret_value(SecretId="bluegreen/slack-bot-token")
    signing_secret = secrets.get_secret_value(SecretId="bluegreen/slack-signing-secret")

    assert len(signing["SecretString"]) == 64
    assert set(signing["SecretString"]) <= set(string.ascii_letters + string.digits)
    # The local workspace's Slack app: the functions read its token and signing secret.
    assert token["SecretString"] == stack.slack.token
    assert signing_secret["SecretString"] == stack.slack.signing_secret
    verified = stack.client("ses").list_verified_email_addresses()["VerifiedEmailAddresses"]
    assert "bluegreen@example.com" in verified


def test_a_push_reaches_the_approver_with_a_working_link(stack: LocalStack) -> None:
    stack.client("ecr").put_image(
        repositoryName="demo-web",
        imageManifest=image_manifest(f"demo-web:{COMMIT}"),
        imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json",
        imageTag=COMMIT,
    )

    def approval_email() -> dict[str, Any] | None:
        outbox = get_json(f"{stack.endpoint_url}/_local/outbox")
        emails = [m for m in outbox if m["channel"] == "email"]
        return emails[0] if emails else None

    email = wait_for(approval_email, timeout=30)
    assert email["to"] == "approver@example.com"
    (link,) = [u for u in email["links"] if "/approvals/" in u]
    assert link.startswith(f"{stack.endpoint_url}/approvals/")

    with urllib.request.urlopen(link, timeout=10) as page:
        assert page.status == 200
        assert page.headers.get_content_type() == "text/html"
        assert b"<form" in page.read()

    executions = stack.client("stepfunctions").list_executions(
        stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen-deploy"
    )["executions"]
    # The sample's pipeline: development deployed (nobody asked), production waits for this.
    short = stack.client("ecr").describe_images(
        repositoryName="demo-web", imageIds=[{"imageTag": COMMIT}]
    )["imageDetails"][0]["imageDigest"][7:19]
    assert sorted((e["name"], e["status"]) for e in executions) == [
        (f"demo-web-dev-{short}", "SUCCEEDED"),
        (f"demo-web-prod-{short}", "RUNNING"),
    ]


def test_the_sample_is_configured_in_the_installations_parameter_with_its_own_test_port(
    stack: LocalStack,
) -> None:
    """As an operator would: the configuration is in the SSM parameter the template names,
    and its test URL reaches the sample's test listener, on whichever port it got."""
    from bluegreen.config import ServiceCatalog

    assert stack.app is not None
    assert stack.sample is not None
    name = stack.app.parameters["ServicesParameterName"]
    parameter = stack.client("ssm").get_parameter(Name=name)["Parameter"]
    service = ServiceCatalog.parse(parameter["Value"], name).named("demo-web", "prod")

    assert parameter["Type"] == "String"
    assert service.test_url == f"http://127.0.0.1:{stack.sample.test_port}/health"
    with urllib.request.urlopen(service.test_url, timeout=5) as answer:
        assert json.load(answer)["status"] == "ok"
    trigger = stack.app.functions["TriggerFunction"].environment
    assert trigger["SERVICES_PARAMETER_NAME"] == name
