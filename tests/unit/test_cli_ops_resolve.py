"""Where the operators' commands find the app: the stack's Outputs, else the names."""

from __future__ import annotations

import json

import pytest
from bluegreen_cli.account import OpsError, page_outcome, resolve

from tests.unit.builders import Aws

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
ROLE = "arn:aws:iam::123456789012:role/states"


def _machine(aws: Aws, name: str) -> str:
    return str(
        aws.client("stepfunctions").create_state_machine(
            name=name, definition=DEFINITION, roleArn=ROLE
        )["stateMachineArn"]
    )


def _table(aws: Aws, name: str) -> None:
    aws.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _resolve(aws: Aws, stack: str = "bluegreen") -> tuple[str | None, str | None, str]:
    found = resolve(
        aws.client("cloudformation"), aws.client("stepfunctions"), aws.client("dynamodb"), stack
    )
    return found.state_machine_arn, found.table_name, found.found_by


def test_the_stack_outputs_name_the_state_machine_and_table(aws: Aws) -> None:
    _machine(aws, "bluegreen-deploy")  # a decoy the outputs must win over
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "StateMachineArn": {"Value": "arn:aws:states:us-east-1:123456789012:stateMachine:x"},
            "TableName": {"Value": "prod-StateTable-ABC"},
        },
    }
    aws.client("cloudformation").create_stack(
        StackName="release", TemplateBody=json.dumps(template)
    )

    machine, table, found_by = _resolve(aws, "release")

    assert machine == "arn:aws:states:us-east-1:123456789012:stateMachine:x"
    assert table == "prod-StateTable-ABC"
    assert "stack 'release'" in found_by


def test_without_cloudformation_the_app_is_found_by_its_names(aws: Aws) -> None:
    """The local stack builds the app without CloudFormation: it holds no stack at all."""
    arn = _machine(aws, "bluegreen-deploy")
    _machine(aws, "something-else")
    _table(aws, "bluegreen-StateTable-1A2B")
    _table(aws, "unrelated")

    machine, table, found_by = _resolve(aws)

    assert (machine, table) == (arn, "bluegreen-StateTable-1A2B")
    assert found_by.startswith("CloudFormation holds no stack")


def test_a_stack_that_does_not_exist_is_an_error_naming_those_that_hold_the_app(
    aws: Aws,
) -> None:
    """On AWS the app is a stack: a mistyped --stack never falls back to another app's
    resources, even one named after it."""
    _machine(aws, "staging-deploy")
    _table(aws, "staging-StateTable-1")
    for name, outputs in (("release", {"StateMachineArn": {"Value": "arn:x"}}), ("vpc", {})):
        template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
        if not outputs:
            del template["Outputs"]
        aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))

    with pytest.raises(OpsError) as raised:
        _resolve(aws, "staging")

    assert raised.value.exit_code == 2
    assert str(raised.value) == (
        "no CloudFormation stack 'staging' in this account and region (stacks holding the app: "
        "release); pass --stack NAME"
    )


def test_without_cloudformation_a_stack_nothing_is_named_after_is_an_error(aws: Aws) -> None:
    _machine(aws, "bluegreen-deploy")
    _machine(aws, "prod-deploy")
    _table(aws, "bluegreen-StateTable-1A2B")

    with pytest.raises(OpsError) as raised:
        _resolve(aws, "staging")

    assert raised.value.exit_code == 2
    assert str(raised.value) == (
        "no stack 'staging' (CloudFormation holds no stack; no state machine staging-deploy, "
        "apps found by name: bluegreen, prod); pass --stack NAME"
    )


def test_among_several_the_stacks_own_names_are_taken(aws: Aws) -> None:
    _machine(aws, "staging-deploy")
    mine = _machine(aws, "bluegreen-deploy")
    _table(aws, "staging-StateTable-1")
    _table(aws, "bluegreen-StateTable-2")

    assert _resolve(aws)[:2] == (mine, "bluegreen-StateTable-2")


def test_a_missing_table_is_said_when_it_is_needed(aws: Aws) -> None:
    _machine(aws, "bluegreen-deploy")

    found = resolve(
        aws.client("cloudformation"),
        aws.client("stepfunctions"),
        aws.client("dynamodb"),
        "bluegreen",
    )

    assert found.state_machine_arn is not None
    with pytest.raises(OpsError, match="no state table found"):
        found.table()


def test_a_decision_page_is_told_from_a_page_that_decided_nothing() -> None:
    decided = page_outcome(
        200,
        "<title>Deployment approved</title><h1>Deployment approved</h1>"
        '<p class="status">demo-web 3f2a9c1 approved: the deployment proceeds.</p>',
    )
    review = page_outcome(
        200,
        "<h1>Deploy <code>3f2a9c1</code> to demo-web (local)?</h1><dl></dl>"
        '<p class="status">This request was approved by a@example.com.</p>',
    )
    marked = page_outcome(
        200,
        '<head><meta name="bluegreen-decision" content="rejected"></head>'
        "<h1>Rejected: demo-web 3f2a9c1 (local) is not deployed</h1>",
    )
    decided_before = page_outcome(  # the same words on a decided request's review page
        200, "<h1>Rejected: demo-web 3f2a9c1 (local) is not deployed</h1>"
    )
    refused = page_outcome(
        403, '<h1>Link not valid</h1><p class="status">This approval link is not valid.</p>'
    )

    assert decided.decision == "approved"
    assert decided.text == "demo-web 3f2a9c1 approved: the deployment proceeds."
    assert review.decision is None
    assert review.heading == "Deploy 3f2a9c1 to demo-web (local)?"
    assert (refused.decision, refused.heading) == (None, "Link not valid")
    assert marked.decision == "rejected"
    assert decided_before.decision is None
