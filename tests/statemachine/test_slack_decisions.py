"""A rejection in Slack, on the real ASL: its reason is the execution's failure cause, and
the service's history keeps it."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

from bluegreen_cli.local.slack import signed_headers


def _outbox(stack: Any) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{stack.endpoint_url}/_local/outbox") as r:
        return list(json.load(r))


def _interact(stack: Any, payload: dict[str, Any]) -> int:
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    request = urllib.request.Request(
        f"{stack.endpoint_url}/slack/interactions",
        data=body.encode(),
        headers=signed_headers(stack.slack.signing_secret, body),
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def _wait(found: Any, what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"no {what}")


def test_a_rejection_in_slack_with_a_reason_is_the_failure_cause_and_in_the_history(  # type: ignore[no-untyped-def]
    start, stack
):
    run = start()
    tag = run.state.image.tag
    posted = _wait(
        lambda: next(
            (
                m
                for m in _outbox(stack)
                if m.get("method") == "chat.postMessage" and tag in m["text"]
            ),
            None,
        ),
        "Slack request",
    )
    (actions,) = [b for b in posted["blocks"] if b["type"] == "actions"]
    approval_id = actions["elements"][1]["value"]
    click = {
        "type": "block_actions",
        "user": {"id": "U0APPROVER"},
        "channel": {"id": posted["to"]},
        "trigger_id": "9.9.9",
        "actions": [{"action_id": "reject", "value": approval_id}],
    }
    assert _interact(stack, click) == 200
    modal = _wait(
        lambda: next((m for m in _outbox(stack) if m.get("method") == "views.open"), None),
        "reject modal",
    )
    view = modal["view"]
    submitted = {
        "type": "view_submission",
        "user": {"id": "U0APPROVER"},
        "view": {**view, "state": {"values": {"reason": {"reason": {"value": "fails QA"}}}}},
    }

    assert _interact(stack, submitted) == 200
    execution = run.finish(timeout=30)

    assert (execution["status"], execution["error"]) == ("FAILED", "ApprovalRejected")
    assert execution["cause"] == "rejected by Slack user U0APPROVER: fails QA"
    table = stack.app.outputs["TableName"]
    items = stack.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "SERVICE#demo/web"}},
    )["Items"]
    (entry,) = [s for s in (json.loads(i["summary"]["S"]) for i in items) if s["tag"] == tag]
    assert entry["cause"] == "rejected by Slack user U0APPROVER: fails QA"
    assert entry["outcome"] == "not_deployed"
