"""`bluegreen local serve --sample` in a subprocess, driven only with boto3 and HTTP."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.e2e.support import (
    ROOT,
    approval_link,
    aws,
    decision_form,
    executions_for,
    finished,
    history,
    http,
    invocations,
    production_image,
    push,
    wait,
)

pytestmark = pytest.mark.e2e


def test_health(endpoint: str) -> None:
    assert http(f"{endpoint}/_local/health")[0] == 200


def test_push_approve_and_deploy(endpoint: str) -> None:
    tag = secrets.token_hex(20)
    digest = push(endpoint, tag)

    link = wait(lambda: approval_link(endpoint, tag), 60, "the approval email")
    assert link.startswith(f"{endpoint}/approvals/")
    assert "token" not in link.lower()

    status, page = http(link)  # a GET only shows the request
    assert status == 200
    assert digest in page
    assert tag in page
    (execution,) = executions_for(endpoint, tag)
    assert execution["status"] == "RUNNING"
    entered = [
        e.get("stateEnteredEventDetails", {}).get("name")
        for e in history(endpoint, execution["executionArn"])
    ]
    assert "SuspendScaling" not in entered

    target, nonce = decision_form(page, link)
    assert http(target, {"nonce": nonce, "decision": "approve"})[0] == 200
    replay_status, _ = http(target, {"nonce": nonce, "decision": "approve"})
    assert replay_status == 409

    final = finished(endpoint, execution["executionArn"])
    assert final["status"] == "SUCCEEDED"
    assert production_image(endpoint).endswith(f"demo-web@{digest}")


def test_mutable_tag_is_refused_and_starts_nothing(endpoint: str) -> None:
    before = production_image(endpoint)
    handled = invocations(endpoint, "TriggerFunction")
    push(endpoint, "latest")
    # The push is handled once the trigger has run on its event.
    wait(lambda: invocations(endpoint, "TriggerFunction") > handled, 60, "the trigger")
    assert executions_for(endpoint, "latest") == []
    assert production_image(endpoint) == before


def test_a_redelivered_push_event_starts_one_execution(endpoint: str) -> None:
    # EventBridge delivers at least once: the trigger may see the same event twice.
    tag = secrets.token_hex(20)
    digest = push(endpoint, tag)
    wait(lambda: executions_for(endpoint, tag), 60, "the first execution")
    event = json.loads((ROOT / "events" / "ecr-push.json").read_text())
    event["detail"].update({"image-digest": digest, "image-tag": tag})
    trigger = json.loads(http(f"{endpoint}/_local/app")[1])["functions"]["TriggerFunction"]

    answers: list[Any] = []
    for _ in range(2):
        invoked = aws(endpoint, "lambda").invoke(FunctionName=trigger, Payload=json.dumps(event))
        answers.append(json.loads(invoked["Payload"].read())["outcome"])

    assert answers == ["duplicate", "duplicate"]
    assert len(executions_for(endpoint, tag)) == 1


def test_an_outside_caller_cannot_send_aws_events(endpoint: str) -> None:
    # PutEvents refuses sources starting with "aws." from callers (NotAuthorizedForSourceException).
    answer = aws(endpoint, "events").put_events(
        Entries=[{"Source": "aws.ecr", "DetailType": "ECR Image Action", "Detail": "{}"}]
    )
    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
