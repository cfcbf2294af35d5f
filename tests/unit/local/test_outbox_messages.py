"""Every email and Slack message the app sends is kept, in order, with every link in it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
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


def test_a_slack_post_through_the_webhook_secret_lands_in_the_outbox(stack: LocalStack) -> None:
    # What a function does: read the webhook URL from the secret, post to it over HTTP.
    webhook = stack.client("secretsmanager").get_secret_value(SecretId="mini/slack-webhook")[
        "SecretString"
    ]
    assert webhook == f"{stack.endpoint_url}/_local/slack/webhook"
    payload = {
        "text": "demo-web awaits approval: <http://127.0.0.1:4566/approvals/abc?r=s|review>",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*demo-web* is ready"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Review"},
                        "url": "http://127.0.0.1:4566/approvals/abc?r=s&sig=2",
                    }
                ],
            },
        ],
    }

    status, body = _post_json(webhook, payload)

    assert (status, body) == (200, "ok")
    (message,) = get_json(f"{stack.endpoint_url}/_local/outbox")
    assert message["channel"] == "slack"
    assert message["text"] == payload["text"]
    assert message["blocks"] == payload["blocks"]
    assert message["links"] == [
        "http://127.0.0.1:4566/approvals/abc?r=s",
        "http://127.0.0.1:4566/approvals/abc?r=s&sig=2",
    ]


def test_a_slack_post_without_text_is_refused_like_slack_does(stack: LocalStack) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        _post_json(f"{stack.endpoint_url}/_local/slack/webhook", {"username": "x"})

    assert refused.value.code == 400
    assert refused.value.read() == b"no_text"


def test_messages_come_oldest_first_across_channels(stack: LocalStack) -> None:
    _post_json(f"{stack.endpoint_url}/_local/slack/webhook", {"text": "first"})
    stack.client("sesv2").send_email(
        FromEmailAddress="sender@example.com",
        Destination={"ToAddresses": ["approver@example.com"]},
        Content={"Simple": {"Subject": {"Data": "second"}, "Body": {"Text": {"Data": "2"}}}},
    )
    _post_json(f"{stack.endpoint_url}/_local/slack/webhook", {"text": "third"})

    outbox: list[dict[str, Any]] = get_json(f"{stack.endpoint_url}/_local/outbox")

    assert [m.get("text") or m.get("subject") for m in outbox] == ["first", "second", "third"]
    assert [m["sent_at"] for m in outbox] == sorted(m["sent_at"] for m in outbox)


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
