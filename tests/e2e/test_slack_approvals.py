"""Slack approvals on `bluegreen local serve --sample`, driven with boto3 and HTTP only: the
local Slack workspace's outbox, its signing secret, and clicks signed as Slack signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.support import (
    approval_link,
    aws,
    decision_form,
    executions_for,
    finished,
    history,
    http,
    outbox,
    push,
    serve,
    wait,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with serve() as running:
        yield running


def slack_app(endpoint: str) -> dict[str, str]:
    status, body = http(f"{endpoint}/_local/slack")
    assert status == 200
    found: dict[str, str] = json.loads(body)
    return found


def click(
    url: str, secret: str, payload: dict[str, Any], signed_at: int | None = None
) -> tuple[int, str]:
    """POST an interaction as Slack does: a form with ``payload``, signed ``v0``."""
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    ts = str(signed_at if signed_at is not None else int(time.time()))
    signature = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        url,
        data=body.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": f"v0={signature}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def slack_request(endpoint: str, tag: str) -> dict[str, Any] | None:
    """The approval request for ``tag``: the message with the decision's buttons (the
    development deployment before it is told to the channel too, with none)."""
    for message in outbox(endpoint):
        if (
            message["channel"] == "slack"
            and message.get("method") == "chat.postMessage"
            and tag in message["text"]
            and any(block["type"] == "actions" for block in message.get("blocks") or [])
        ):
            return message
    return None


def approve_payload(message: dict[str, Any], user: str) -> dict[str, Any]:
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    approval_id = actions["elements"][0]["value"]
    return {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": message["to"]},
        "container": {"type": "message", "message_ts": message["ts"]},
        "trigger_id": "1.2.3",
        "actions": [{"action_id": "approve", "block_id": "decision", "value": approval_id}],
    }


def still_waiting(endpoint: str, tag: str) -> None:
    (execution,) = executions_for(endpoint, tag)
    assert execution["status"] == "RUNNING"
    entered = [
        e.get("stateEnteredEventDetails", {}).get("name")
        for e in history(endpoint, execution["executionArn"])
    ]
    assert "TakeTurn" not in entered


def test_a_signed_click_by_the_sample_approver_deploys_and_nothing_else_does(
    endpoint: str,
) -> None:
    tag = secrets.token_hex(20)
    push(endpoint, tag)
    message = wait(lambda: slack_request(endpoint, tag), 60, "the Slack approval request")
    app = slack_app(endpoint)
    assert app["interactions_url"] == f"{endpoint}/slack/interactions"
    url, secret = app["interactions_url"], app["signing_secret"]

    # The approval email has an HTML part, and a link of the approver's own.
    (mail,) = [
        m for m in outbox(endpoint) if m["channel"] == "email" and tag in m.get("subject", "")
    ]
    assert "<html" in (mail["html"] or "")
    assert mail["text"]

    # Refused, each leaving the deployment waiting for its approval.
    approve = approve_payload(message, "U0APPROVER")
    assert click(url, "not-the-signing-secret", approve)[0] == 401
    assert click(url, secret, approve, signed_at=int(time.time()) - 10 * 60)[0] == 401
    assert click(url, secret, approve_payload(message, "U0BYSTANDER"))[0] == 200
    still_waiting(endpoint, tag)
    assert any(
        m.get("method") == "chat.postEphemeral" and m["to"] == "U0BYSTANDER"
        for m in outbox(endpoint)
    )

    # No link in the Slack message can approve: each only shows the request.
    email_link = approval_link(endpoint, tag)
    assert email_link
    _, nonce = decision_form(http(email_link)[1], email_link)  # a real form, someone else's
    slack_links = [link for m in outbox(endpoint) if m["channel"] == "slack" for link in m["links"]]
    assert slack_links
    for link in slack_links:
        status, page = http(link)
        assert status == 200
        assert 'name="nonce"' not in page
        assert http(link, {"nonce": nonce, "decision": "approve"})[0] in (400, 403, 404, 405)
    still_waiting(endpoint, tag)

    # The sample's Slack approver, signed as Slack signs: the deployment goes on.
    assert click(url, secret, approve)[0] == 200
    (execution,) = executions_for(endpoint, tag)
    done = finished(endpoint, execution["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert "U0APPROVER" in json.loads(done["output"])["approval"]["approver"]
    outputs = json.loads(http(f"{endpoint}/_local/app")[1])["outputs"]
    table = outputs["TableName"]
    items = aws(endpoint, "dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "SERVICE#demo/web"}},
    )["Items"]
    summaries = [json.loads(i["summary"]["S"]) for i in items if "summary" in i]
    (mine,) = [s for s in summaries if s.get("tag") == tag]
    assert "U0APPROVER" in mine["approved_by"]
    # The request's own message shows the decision; the outcome is a reply in its thread.
    updates = [m for m in outbox(endpoint) if m.get("method") == "chat.update"]
    assert any(m["ts"] == message["ts"] and "Approved" in json.dumps(m["blocks"]) for m in updates)
    assert wait(
        lambda: [m for m in outbox(endpoint) if m.get("thread_ts") == message["ts"]],
        30,
        "the outcome in the request's thread",
    )
