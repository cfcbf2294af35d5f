"""The scale benchmark's plan: what it pushes, and how it reads an approval email."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import boto3
import pytest
from bluegreen.models import DEFAULT_TAG_PATTERN
from moto import mock_aws

from bench.scale import Approval, Scale, ending_of, image_in, plan, succeed_states_of


def test_scale_reads_services_by_pushes() -> None:
    assert Scale.parse("20x3") == Scale(services=20, pushes=3)
    assert str(Scale.parse(" 2 X 5 ")) == "2x5"
    for wrong in ("20", "0x3", "3x0", "x3", "twentyxthree"):
        with pytest.raises(ValueError, match="SERVICESxPUSHES"):
            Scale.parse(wrong)


def test_every_push_is_a_deployable_image_of_its_own() -> None:
    pushes = plan(["demo-web", "demo-web-2"], 3)

    assert [(p.service, p.order) for p in pushes] == [
        (service, order) for service in ("demo-web", "demo-web-2") for order in range(3)
    ]
    assert len({p.tag for p in pushes}) == len({p.digest for p in pushes}) == 6
    # The trigger refuses tags that are not a commit SHA or a version.
    assert all(re.fullmatch(DEFAULT_TAG_PATTERN, p.tag) for p in pushes)


def test_an_approval_email_is_matched_to_the_image_its_subject_names() -> None:
    images = {"a" * 40: ("demo-web", "sha256:aa"), "b" * 40: ("demo-web-2", "sha256:bb")}
    email = {
        "subject": f"[bluegreen] Approve demo-web-2 {'b' * 40} to local?",
        # The running image's tag may appear in the text; the subject names the new one.
        "text": f"Running image: ...:{'a' * 40}",
    }
    assert image_in(email, images) == ("demo-web-2", "sha256:bb")
    assert image_in({"subject": "?", "text": f"tag {'a' * 40}"}, images) == images["a" * 40]
    assert image_in({"subject": "unrelated", "text": "c" * 40}, images) is None


def test_an_approval_counts_as_accepted_only_when_its_form_was_submitted_and_taken() -> None:
    assert Approval("demo-web", "sha256:aa", 200, submitted=True).accepted
    assert not Approval("demo-web", "sha256:aa", 409, submitted=True).accepted
    # A page without a form (decided, closed, superseded) answers 200 too.
    assert not Approval("demo-web", "sha256:aa", 200, submitted=False).accepted


def test_an_execution_is_counted_by_its_error_or_by_the_succeed_state_it_ended_in() -> None:
    """With several Succeed states (Deployed, Superseded, ...), SUCCEEDED alone says too
    little: the state it ended in is named. A failure is named by its error."""
    definition = {
        "StartAt": "Which",
        "States": {
            "Which": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.end", "StringEquals": "deployed", "Next": "Deployed"},
                    {"Variable": "$.end", "StringEquals": "superseded", "Next": "Superseded"},
                ],
                "Default": "Refused",
            },
            "Deployed": {"Type": "Succeed"},
            "Superseded": {"Type": "Succeed"},
            "Refused": {"Type": "Fail", "Error": "ServiceLocked", "Cause": "held"},
        },
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="ends",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/ends",
        )["stateMachineArn"]
        clients = {"stepfunctions": sfn}.__getitem__
        ended = {}
        for end in ("deployed", "superseded", "locked"):
            arn = sfn.start_execution(
                stateMachineArn=machine, name=end, input=json.dumps({"end": end})
            )["executionArn"]
            _ended(sfn, arn)
            ended[end] = ending_of(clients, arn, succeed_states_of(clients, machine))

    assert ended == {
        "deployed": "SUCCEEDED (Deployed)",
        "superseded": "SUCCEEDED (Superseded)",
        "locked": "ServiceLocked",
    }


def _ended(sfn: Any, arn: str) -> None:
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)
