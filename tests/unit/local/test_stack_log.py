"""What the local stack's log shows of Step Functions: workflow outcomes, not evaluation steps."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from bluegreen_cli.commands.local import configure_logging
from moto import mock_aws

# Like the deploy flow's NeedsApproval: an environment without approvers skips the approval.
DEFINITION = {
    "StartAt": "NeedsApproval",
    "States": {
        "NeedsApproval": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.service.approvers[0]", "IsPresent": False, "Next": "Deploy"}
            ],
            "Default": "Ask",
        },
        "Ask": {"Type": "Pass", "Next": "Deploy"},
        "Deploy": {"Type": "Pass", "InputPath": "$.image", "End": True},
    },
}


@pytest.fixture
def logged() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], level = saved
    root.setLevel(level)


def run(document: dict[str, Any]) -> str:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="flow",
            definition=json.dumps(DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/flow",
        )["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(document))[
            "executionArn"
        ]
        deadline = time.monotonic() + 10
        while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not end"
            time.sleep(0.05)
    return str(status)


def test_a_choice_on_an_absent_path_is_no_error_in_the_log(
    logged: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Step Functions Choice rules: IsPresent is false for a path that is not in the input."""
    configure_logging("WARNING")

    status = run({"service": {"approvers": []}, "image": {"tag": "3f2a9c1"}})

    assert status == "SUCCEEDED"
    assert capsys.readouterr().err == ""


def test_a_state_failing_on_an_absent_path_is_still_told(
    logged: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Step Functions InputPath: a path not in the input fails the state (States.Runtime)."""
    configure_logging("INFO")

    status = run({"service": {"approvers": []}})

    assert status == "FAILED"
    told = capsys.readouterr().err.splitlines()
    assert any(" INFO " in line and "Invalid path '$.image'" in line for line in told)
