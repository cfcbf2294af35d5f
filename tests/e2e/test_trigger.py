"""What the trigger makes of pushes, on `bluegreen local serve --sample`, driven with boto3 and
HTTP only: one deployment per image, nothing from a forged event."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.e2e.support import (
    approval_link,
    aws,
    executions_for,
    invocations,
    invoke_trigger,
    outbox,
    push,
    push_event,
    wait,
)

pytestmark = pytest.mark.e2e


def task_definitions(endpoint: str) -> list[str]:
    listed: list[str] = aws(endpoint, "ecs").list_task_definitions()["taskDefinitionArns"]
    return listed


def test_one_image_pushed_under_two_tags_is_one_deployment(endpoint: str) -> None:
    """ECR sends one "ECR Image Action" event per tag: the second names the same image."""
    commit, version = secrets.token_hex(4)[:7], f"v{secrets.randbelow(100)}.4.0"
    image = secrets.token_hex(8)
    handled = invocations(endpoint, "TriggerFunction")

    digest = push(endpoint, commit, image=image)
    wait(lambda: approval_link(endpoint, commit), 60, "the approval email")
    assert push(endpoint, version, image=image) == digest
    wait(lambda: invocations(endpoint, "TriggerFunction") >= handled + 2, 60, "both pushes")

    (execution,) = executions_for(endpoint, digest)
    assert execution["status"] == "RUNNING"
    approvals = [
        m
        for m in outbox(endpoint)
        if m["channel"] == "email" and (commit in m["subject"] or version in m["subject"])
    ]
    assert len(approvals) == 1
    # Redelivered, the second tag's event is answered as what it is: the same deployment.
    again = invoke_trigger(endpoint, push_event(version, digest))
    assert again["outcome"] == "duplicate"
    assert again["execution_name"] == execution["name"]
    assert execution["name"] in again["reason"]


def test_a_forged_digest_is_refused_and_touches_nothing(endpoint: str) -> None:
    """ECR DescribeImages: ImageNotFoundException for a digest the repository does not hold."""
    tag = secrets.token_hex(4)[:7]
    forged = "sha256:" + secrets.token_hex(32)
    definitions, sent = task_definitions(endpoint), len(outbox(endpoint))

    answer = invoke_trigger(endpoint, push_event(tag, forged))

    assert answer["outcome"] == "refused"
    assert answer["reason"].startswith(f"digest {forged} is not an image of repository 'demo-web'")
    assert executions_for(endpoint, forged) == []
    assert task_definitions(endpoint) == definitions
    assert [m for m in outbox(endpoint)[sent:] if m["channel"] == "email"] == []


def test_another_repositorys_digest_is_refused(endpoint: str) -> None:
    """ECR DescribeImages: a digest is found only in the repository it was pushed to."""
    aws(endpoint, "ecr").create_repository(repositoryName="elsewhere")
    tag = secrets.token_hex(4)[:7]
    digest = push(endpoint, tag, repository="elsewhere")

    answer = invoke_trigger(endpoint, push_event(tag, digest))

    assert answer["outcome"] == "refused"
    assert f"digest {digest} is not an image of repository 'demo-web'" in answer["reason"]
    assert executions_for(endpoint, digest) == []


def service_history(endpoint: str) -> list[dict[str, Any]]:
    """The sample service's history, as the table keeps it (newest first)."""
    ddb = aws(endpoint, "dynamodb")
    table = next(t for t in ddb.list_tables()["TableNames"] if "StateTable" in t)
    found = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :d)",
        ExpressionAttributeValues={":pk": {"S": "SERVICE#demo/web"}, ":d": {"S": "DEPLOY#"}},
        ScanIndexForward=False,
    )
    return [json.loads(item["summary"]["S"]) for item in found["Items"]]


def refusals_told(endpoint: str, pushed: str) -> list[dict[str, Any]]:
    return [
        m
        for m in outbox(endpoint)
        if m["channel"] == "slack" and f"push refused: {pushed}" in m.get("text", "")
    ]


def test_a_refused_tag_is_in_the_history_and_told_to_the_channel_once(endpoint: str) -> None:
    handled = invocations(endpoint, "TriggerFunction")

    digest = push(endpoint, "latest", image=secrets.token_hex(8))
    wait(lambda: invocations(endpoint, "TriggerFunction") > handled, 60, "the trigger")

    entry = next(e for e in service_history(endpoint) if e.get("digest") == digest)
    assert entry["outcome"] == "refused"
    assert entry["tag"] == "latest"
    assert entry["reason"].startswith("tag 'latest' is mutable")
    (told,) = refusals_told(endpoint, "demo-web:latest")
    assert entry["reason"] in json.dumps(told["blocks"])
    # EventBridge delivers at least once: the same push again tells nobody anything new.
    again = invoke_trigger(endpoint, push_event("latest", digest))
    assert (again["outcome"], again["announced"]) == ("refused", False)
    assert len(refusals_told(endpoint, "demo-web:latest")) == 1
    assert len([e for e in service_history(endpoint) if e.get("digest") == digest]) == 1
