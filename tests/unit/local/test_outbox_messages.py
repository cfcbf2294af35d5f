"""Every email and Slack message the app sends is kept, in order, with every link in it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from bluegreen.adapters.slack import SlackApp
from bluegreen_cli.local.outbox import links_in
from bluegreen_cli.local.server import LocalStack

from tests.unit.local.localstack_support import get_json, write_project


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = write_project(tmp_path_factory.mktemp("mini"))
    with LocalStack(port=0, project_root=root) as running:
        # The account is in the SES sandbox: mail goes to verified addresses only.
        for address in ("approver@example.com", "team@example.com"):
            running.client("ses").verify_email_identity(EmailAddress=address)
        yield running


@pytest.fixture(autouse=True)
def empty_outbox(stack: LocalStack) -> None:
    request = urllib.request.Request(f"{stack.endpoint_url}/_local/outbox", method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()


def _post_json(url: str, document: Any) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


def test_links_are_found_in_html_mrkdwn_and_block_kit() -> None:
    html = (
        '<p><a href="https://x.test/approvals/1?r=a&amp;sig=b">Review</a> or https://y.test/.</p>'
    )
    assert links_in(html) == ["https://x.test/approvals/1?r=a&sig=b", "https://y.test/"]
    assert links_in("see <https://x.test/a?b=1|the page>") == ["https://x.test/a?b=1"]
    block = {"type": "actions", "elements": [{"type": "button", "url": "https://z.test/b"}]}
    assert links_in([block]) == ["https://z.test/b"]


def test_an_ses_email_is_in_the_outbox_per_recipient(stack: LocalStack) -> None:
    stack.client("ses").send_email(
        Source="sender@example.com",
        Destination={"ToAddresses": ["approver@example.com"], "CcAddresses": ["team@example.com"]},
        Message={
            "Subject": {"Data": "Approve demo-web 1a2b3c"},
            "Body": {
                "Text": {"Data": "Open https://example.test/approvals/abc?sig=1"},
                "Html": {
                    "Data": '<a href="http://127.0.0.1:4566/approvals/abc?r=x&amp;sig=1">Review</a>'
                },
            },
        },
    )

    outbox = get_json(f"{stack.endpoint_url}/_local/outbox")

    assert [(m["channel"], m["to"]) for m in outbox] == [
        ("email", "approver@example.com"),
        ("email", "team@example.com"),
    ]
    message = outbox[0]
    assert message["subject"] == "Approve demo-web 1a2b3c"
    assert message["from"] == "sender@example.com"
    assert message["links"] == ["http://127.0.0.1:4566/approvals/abc?r=x&sig=1"]
    assert "Review" in message["body"]
    assert message["sent_at"].endswith("Z")


def test_an_unverified_sender_is_refused_and_nothing_is_sent(stack: LocalStack) -> None:
    ses = stack.client("ses")
    with pytest.raises(ses.exceptions.MessageRejected):
        ses.send_email(
            Source="stranger@example.com",
            Destination={"ToAddresses": ["approver@example.com"]},
            Message={"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "y"}}},
        )

    assert get_json(f"{stack.endpoint_url}/_local/outbox") == []


def _slack(stack: LocalStack) -> SlackApp:
    """What a function does: read the bot token from its secret, call the Web API."""
    token = stack.client("secretsmanager").get_secret_value(SecretId="mini/slack-bot-token")
    return SlackApp(token["SecretString"], f"{stack.endpoint_url}/_local/slack/api/")


def test_a_slack_message_posted_with_the_bot_token_lands_in_the_outbox(stack: LocalStack) -> None:
    message = {
        "text": "demo-web awaits approval",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*demo-web* is ready"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "<http://127.0.0.1:4566/approvals/abc?view=1|Details>",
                    }
                ],
            },
        ],
    }

    posted = _slack(stack).post("#deploys", message)

    (entry,) = get_json(f"{stack.endpoint_url}/_local/outbox")
    assert entry["channel"] == "slack"
    assert (entry["method"], entry["to"], entry["ts"]) == (
        "chat.postMessage",
        "C0DEPLOYS",
        posted.ts,
    )
    assert entry["text"] == message["text"]
    assert entry["blocks"] == message["blocks"]
    assert entry["links"] == ["http://127.0.0.1:4566/approvals/abc?view=1"]


def test_slack_answers_like_slack_ok_ts_and_channel(stack: LocalStack) -> None:
    """Slack Web API: HTTP 200, ``{"ok": true, "channel", "ts"}``, or ``ok: false`` + error."""
    url = f"{stack.endpoint_url}/_local/slack/api/chat.postMessage"
    token = stack.client("secretsmanager").get_secret_value(SecretId="mini/slack-bot-token")

    def call(document: dict[str, Any], bearer: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            url,
            data=json.dumps(document).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {bearer}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())

    status, answer = call({"channel": "C0DEPLOYS", "text": "hi"}, token["SecretString"])
    assert status == 200
    assert answer["ok"] is True
    assert answer["channel"] == "C0DEPLOYS"
    assert answer["ts"]
    assert call({"channel": "C0DEPLOYS"}, token["SecretString"])[1] == {
        "ok": False,
        "error": "no_text",
    }
    assert call({"channel": "C0DEPLOYS", "text": "x"}, "xoxb-guess")[1]["error"] == "invalid_auth"
    assert len(get_json(f"{stack.endpoint_url}/_local/outbox")) == 1  # refusals send nothing


def test_the_signing_secret_and_interactions_url_are_published(stack: LocalStack) -> None:
    found = get_json(f"{stack.endpoint_url}/_local/slack")

    secret = stack.client("secretsmanager").get_secret_value(SecretId="mini/slack-signing-secret")
    assert found == {
        "signing_secret": secret["SecretString"],
        "interactions_url": f"{stack.endpoint_url}/slack/interactions",
    }


def test_messages_come_oldest_first_across_channels(stack: LocalStack) -> None:
    _slack(stack).post("#deploys", {"text": "first"})
    stack.client("sesv2").send_email(
        FromEmailAddress="sender@example.com",
        Destination={"ToAddresses": ["approver@example.com"]},
        Content={"Simple": {"Subject": {"Data": "second"}, "Body": {"Text": {"Data": "2"}}}},
    )
    _slack(stack).post("#deploys", {"text": "third"})

    outbox: list[dict[str, Any]] = get_json(f"{stack.endpoint_url}/_local/outbox")

    assert [m.get("subject") or m.get("text") for m in outbox] == ["first", "second", "third"]
    assert [m["sent_at"] for m in outbox] == sorted(m["sent_at"] for m in outbox)


def test_an_html_email_keeps_both_parts_and_its_headers(stack: LocalStack) -> None:
    from bluegreen.adapters.notifications import SesMailer
    from bluegreen.domain.messages import Email

    mail = Email(
        to=["approver@example.com"],
        subject="Approve demo-web 1a2b3c?",
        text="Review: http://127.0.0.1:4566/approvals/abc?sig=1\n",
        html='<p><a href="http://127.0.0.1:4566/approvals/abc?sig=1">Review and decide</a></p>',
    )

    SesMailer(stack.client("ses"), "sender@example.com").send(mail)

    (entry,) = get_json(f"{stack.endpoint_url}/_local/outbox")
    assert entry["text"] == mail.text
    assert entry["html"].strip() == mail.html
    assert entry["links"] == ["http://127.0.0.1:4566/approvals/abc?sig=1"]
    assert entry["headers"]["Auto-Submitted"] == "auto-generated"
    assert "Precedence" not in entry["headers"]


def test_email_to_a_topic_subscriber_is_in_the_outbox(stack: LocalStack) -> None:
    sns = stack.client("sns")
    topic = sns.create_topic(Name="outcomes")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com")

    sns.publish(TopicArn=topic, Subject="Deployed", Message="see http://127.0.0.1:4566/x")

    (message,) = get_json(f"{stack.endpoint_url}/_local/outbox")
    assert (message["channel"], message["to"], message["subject"]) == (
        "email",
        "oncall@example.com",
        "Deployed",
    )
    assert message["links"] == ["http://127.0.0.1:4566/x"]
