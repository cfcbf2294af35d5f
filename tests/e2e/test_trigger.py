"""What the trigger makes of pushes, on `bluegreen local serve --sample`, driven with boto3 and
HTTP only: one deployment per image, nothing from a forged event."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.e2e.cli_support import bluegreen
from tests.e2e.support import (
    DEV_ACCOUNT,
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

DEV_SERVICE = f"{DEV_ACCOUNT}:demo-dev/web"  # development's demo-web, by its cluster/service


def task_definitions(endpoint: str) -> list[str]:
    listed: list[str] = aws(endpoint, "ecs").list_task_definitions()["taskDefinitionArns"]
    return listed


def test_one_image_pushed_under_two_tags_is_one_deployment(endpoint: str) -> None:
    """ECR sends one "ECR Image Action" event per tag: the second names the same image. One
    deployment through the pipeline: one execution in development, then one in production."""
    commit, version = secrets.token_hex(4)[:7], f"v{secrets.randbelow(100)}.4.0"
    image = secrets.token_hex(8)
    handled = invocations(endpoint, "TriggerFunction")

    digest = push(endpoint, commit, image=image)
    wait(lambda: approval_link(endpoint, commit), 60, "the approval email")
    assert push(endpoint, version, image=image) == digest
    wait(lambda: invocations(endpoint, "TriggerFunction") >= handled + 2, 60, "both pushes")

    (dev,) = executions_for(endpoint, digest, "dev")
    (prod,) = executions_for(endpoint, digest)
    assert len(executions_for(endpoint, digest, None)) == 2
    assert (dev["name"], dev["status"]) == (f"demo-web-dev-{digest[7:19]}", "SUCCEEDED")
    assert prod["status"] == "RUNNING"
    approvals = [
        m
        for m in outbox(endpoint)
        if m["channel"] == "email" and (commit in m["subject"] or version in m["subject"])
    ]
    assert len(approvals) == 1
    # Redelivered, the second tag's event is answered as what it is: the same deployment,
    # named by the execution a push starts, the first environment's.
    again = invoke_trigger(endpoint, push_event(version, digest))
    assert again["outcome"] == "duplicate"
    assert again["execution_name"] == dev["name"]
    assert dev["name"] in again["reason"]


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


def service_history(endpoint: str, *service: str) -> list[dict[str, Any]]:
    """The sample service's history as an operator reads it, newest first: `bluegreen
    history demo-web` (production's, the command's default), or of ``service`` named so."""
    shown = bluegreen(endpoint, "history", *(service or ("demo-web",)), "--json")
    assert shown.returncode == 0, shown.stderr
    rows: list[dict[str, Any]] = json.loads(shown.stdout)["deployments"]
    return rows


def refusals_told(endpoint: str, pushed: str) -> list[dict[str, Any]]:
    return [
        m
        for m in outbox(endpoint)
        if m["channel"] == "slack" and f"push refused: {pushed}" in m.get("text", "")
    ]


def test_a_refused_tag_is_in_the_history_and_told_to_the_channel_once(endpoint: str) -> None:
    """A refused push concerns the whole pipeline (it deploys nowhere): `bluegreen history
    demo-web` (production's) says why, as development's history, where pushes enter, does."""
    handled = invocations(endpoint, "TriggerFunction")

    digest = push(endpoint, "latest", image=secrets.token_hex(8))
    wait(lambda: invocations(endpoint, "TriggerFunction") > handled, 60, "the trigger")

    entry = next(e for e in service_history(endpoint) if e.get("digest") == digest)
    assert entry["outcome"] == "refused"
    assert entry["tag"] == "latest"
    assert entry["reason"].startswith("tag 'latest' is mutable")
    assert entry["environment"] == "dev"  # refused where pushes enter the pipeline
    (in_dev,) = [e for e in service_history(endpoint, DEV_SERVICE) if e.get("digest") == digest]
    assert in_dev == entry
    (told,) = refusals_told(endpoint, "demo-web:latest")
    assert entry["reason"] in json.dumps(told["blocks"])
    # EventBridge delivers at least once: the same push again tells nobody anything new.
    again = invoke_trigger(endpoint, push_event("latest", digest))
    assert (again["outcome"], again["announced"]) == ("refused", False)
    assert len(refusals_told(endpoint, "demo-web:latest")) == 1
    for where in ((), (DEV_SERVICE,)):
        assert len([e for e in service_history(endpoint, *where) if e.get("digest") == digest]) == 1
    assert executions_for(endpoint, digest, None) == []
