"""Slack's clicks at the approval API: signed by Slack, made by a listed approver, on a
request that can still be decided. Anything else is refused and changes nothing.

The handlers run as Lambda runs them (moto for AWS, a real token of a waiting execution);
Slack is the local stack's workspace on loopback, reached by the app's real client.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest
from bluegreen.adapters.store import StateTable
from bluegreen.domain.queue import queued_image
from bluegreen_cli.local.slack import signed_headers

from tests.unit.builders import (
    SIGNING_KEY,
    ApprovalMachine,
    Aws,
    SlackServer,
    create_state_table,
    event,
    rendered,
    slack_server,
)
from tests.unit.conftest import LambdaContext
from tests.unit.test_handlers import use_slack

Loader = Callable[[str], ModuleType]
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
APPROVER = "U0APPROVER"  # the tests' service lists this Slack user (services.toml)
BYSTANDER = "U0BYSTANDER"


@dataclass
class SlackApprovals:
    table: StateTable
    machine: ApprovalMachine
    api: ModuleType
    slack: SlackServer
    context: LambdaContext
    execution: str = ""
    approval_id: str = ""

    def record(self) -> Any:
        return self.table.get_approval(self.approval_id)

    def payload(self, user: str, action: str) -> dict[str, Any]:
        posted = self.slack.sent("chat.postMessage")[0]
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0LOCAL"},
            "channel": {"id": posted["to"]},
            "container": {"type": "message", "message_ts": posted["ts"]},
            "trigger_id": "1337.42.abcdef",
            "actions": [{"action_id": action, "block_id": "decision", "value": self.approval_id}],
        }

    def send(
        self,
        payload: dict[str, Any],
        signed_at: int | None = None,
        secret: str | None = None,
    ) -> dict[str, Any]:
        body = urlencode({"payload": json.dumps(payload)})
        headers = signed_headers(
            secret or self.slack.workspace.signing_secret, body, signed_at or int(time.time())
        )
        return self.post(body, headers)

    def post(self, body: str, headers: dict[str, str]) -> dict[str, Any]:
        request = event("approval-post.json")
        request["routeKey"] = request["requestContext"]["routeKey"] = "POST /slack/interactions"
        request["rawPath"] = request["requestContext"]["http"]["path"] = "/slack/interactions"
        request["rawQueryString"] = ""
        request.pop("queryStringParameters", None)
        request.pop("pathParameters", None)
        request["headers"] = {
            **{k: v for k, v in request["headers"].items() if k != "content-length"},
            **{k.lower(): v for k, v in headers.items()},
            "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        request["body"] = base64.b64encode(body.encode()).decode()
        request["isBase64Encoded"] = True
        answer: dict[str, Any] = self.api.lambda_handler(request, self.context)
        return answer

    def unchanged(self) -> None:
        """Nothing moved: the request waits, and so does the execution."""
        assert self.record().status == "pending"
        assert self.machine.status(self.execution) == "RUNNING"
        assert self.slack.sent("chat.update") == []


@pytest.fixture
def world(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, load_handler: Loader, lambda_context: LambdaContext
) -> Iterator[SlackApprovals]:
    ddb = aws.client("dynamodb")
    table = create_state_table(ddb)
    key = aws.client("secretsmanager").create_secret(
        Name="bluegreen/approval-signing", SecretString=SIGNING_KEY.decode()
    )["ARN"]
    aws.client("ses").verify_email_identity(EmailAddress="bluegreen@example.com")
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("SIGNING_SECRET_ARN", key)
    monkeypatch.setenv(
        "APPROVAL_BASE_URL", "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    )
    monkeypatch.setenv("SENDER_EMAIL", "bluegreen@example.com")
    with slack_server() as slack:
        use_slack(aws, monkeypatch, slack)
        machine = ApprovalMachine.create(aws.client("stepfunctions"), aws.client("sqs"))
        world = SlackApprovals(
            table=StateTable(ddb, table),
            machine=machine,
            api=load_handler("approval_api"),
            slack=slack,
            context=lambda_context,
        )
        deployment = rendered()
        world.execution, token = machine.start(deployment.dump())
        world.table.admit(deployment.service.lock_key, queued_image(deployment))
        answer = load_handler("request_approval").lambda_handler(
            {"state": deployment.dump(), "task_token": token}, lambda_context
        )
        world.approval_id = answer["approval_id"]
        assert answer["slack"] is True
        yield world


def ephemerals(world: SlackApprovals) -> list[tuple[str, str]]:
    return [(e["to"], e["text"]) for e in world.slack.sent("chat.postEphemeral")]


def test_a_signed_click_by_a_listed_approver_approves_and_the_message_says_so(
    world: SlackApprovals,
) -> None:
    answer = world.send(world.payload(APPROVER, "approve"))

    assert (answer["statusCode"], answer["body"]) == (200, "")
    described = world.machine.finished(world.execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["approval"]["approver"] == "Slack user U0APPROVER"
    record = world.record()
    assert (record.status, record.decided_by) == ("approved", "Slack user U0APPROVER")
    (update,) = world.slack.sent("chat.update")
    posted = world.slack.sent("chat.postMessage")[0]
    assert (update["to"], update["ts"]) == (posted["to"], posted["ts"])  # the same message
    shown = json.dumps(update["blocks"])
    assert "*Approved* by Slack user U0APPROVER" in shown
    assert "the deployment starts now" in shown
    assert '"actions"' not in shown  # the buttons are gone
    assert ephemerals(world) == []


def test_a_click_with_a_bad_signature_is_refused_and_changes_nothing(
    world: SlackApprovals,
) -> None:
    answer = world.send(world.payload(APPROVER, "approve"), secret="not-the-signing-secret")

    assert answer["statusCode"] == 401
    world.unchanged()
    assert ephemerals(world) == []


def test_a_click_signed_more_than_five_minutes_ago_is_refused_and_changes_nothing(
    world: SlackApprovals,
) -> None:
    """Slack's replay window: a well-signed request with an old timestamp is refused."""
    answer = world.send(world.payload(APPROVER, "approve"), signed_at=int(time.time()) - 6 * 60)

    assert answer["statusCode"] == 401
    world.unchanged()


def test_a_click_by_a_user_not_on_the_list_is_refused_in_private_and_changes_nothing(
    world: SlackApprovals,
) -> None:
    for action in ("approve", "reject"):
        answer = world.send(world.payload(BYSTANDER, action))
        assert answer["statusCode"] == 200

    world.unchanged()
    assert world.slack.sent("views.open") == []  # no reject form for them either
    refusals = ephemerals(world)
    assert [to for to, _ in refusals] == [BYSTANDER, BYSTANDER]
    assert all("not one of the Slack approvers of demo-web" in text for _, text in refusals)


def test_a_click_replayed_after_the_decision_is_refused_and_changes_nothing(
    world: SlackApprovals,
) -> None:
    payload = world.payload(APPROVER, "approve")
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed_headers(world.slack.workspace.signing_secret, body)
    world.post(body, headers)
    decided = world.record()

    world.post(body, headers)  # the same request, within its five minutes
    world.send(world.payload(APPROVER, "reject"))

    assert world.record() == decided
    assert world.machine.finished(world.execution)["status"] == "SUCCEEDED"
    assert world.slack.sent("views.open") == []
    assert [text for _, text in ephemerals(world)] == [
        "*Already decided*: This request was already approved by Slack user U0APPROVER. "
        "Nothing was changed."
    ] * 2


def test_a_click_on_a_superseded_request_is_refused_and_the_message_says_superseded(
    world: SlackApprovals,
) -> None:
    world.table.supersede_approval(world.approval_id, "v1.4.1 (9f8e7d6)", rendered().requested_at)

    world.send(world.payload(APPROVER, "approve"))

    record = world.record()
    assert (record.status, record.decided_by) == ("superseded", "v1.4.1 (9f8e7d6)")
    assert world.machine.status(world.execution) == "RUNNING"  # Admit's to end, not ours
    ((to, text),) = ephemerals(world)
    assert to == APPROVER
    assert "superseded by v1.4.1 (9f8e7d6)" in text
    (update,) = world.slack.sent("chat.update")
    assert "*Superseded* by v1.4.1 (9f8e7d6)" in json.dumps(update["blocks"])


def test_reject_asks_for_a_reason_and_the_reason_is_kept_with_the_rejection(
    world: SlackApprovals,
) -> None:
    world.send(world.payload(APPROVER, "reject"))

    (modal,) = world.slack.sent("views.open")
    assert world.record().status == "pending"  # opening the modal decides nothing
    view = modal["view"]
    submitted = {
        "type": "view_submission",
        "user": {"id": APPROVER},
        "view": {
            **view,
            "state": {"values": {"reason": {"reason": {"value": "breaks the <!channel> login"}}}},
        },
    }
    answer = world.send(submitted)

    assert (answer["statusCode"], answer["body"]) == (200, "")  # the modal closes
    described = world.machine.finished(world.execution)
    assert (described["status"], described["error"]) == ("FAILED", "ApprovalRejected")
    record = world.record()
    assert (record.status, record.decided_by, record.reason) == (
        "rejected",
        "Slack user U0APPROVER",
        "breaks the <!channel> login",
    )
    (update,) = world.slack.sent("chat.update")
    shown = json.dumps(update["blocks"])
    assert "breaks the &lt;!channel&gt; login" in shown
    assert "<!channel>" not in shown


def test_a_reject_submission_by_someone_not_listed_keeps_the_modal_open_with_why(
    world: SlackApprovals,
) -> None:
    submitted = {
        "type": "view_submission",
        "user": {"id": BYSTANDER},
        "view": {"callback_id": "reject_reason", "private_metadata": world.approval_id},
    }

    answer = world.send(submitted)

    assert answer["statusCode"] == 200
    document = json.loads(answer["body"])
    assert document["response_action"] == "errors"
    assert "not one of the Slack approvers" in document["errors"]["reason"]
    world.unchanged()
