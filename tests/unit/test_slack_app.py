"""The Slack app's client (slack-sdk's WebClient) against the local Slack workspace, and the
verification of Slack's request signatures (slack-sdk's SignatureVerifier)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from bluegreen.adapters.slack import SlackApp, verify_request
from bluegreen.errors import SlackFailed, SlackRequestInvalid
from bluegreen_cli.local.slack import signed_headers

from tests.unit.builders import SlackServer, slack_server

MESSAGE = {"text": "demo-web awaits approval", "blocks": [{"type": "divider"}]}


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with slack_server() as server:
        yield server


def test_a_message_posted_to_a_channel_name_answers_the_channel_id_and_its_ts(
    slack: SlackServer,
) -> None:
    posted = slack.app().post("#deploys", MESSAGE)

    assert posted.channel == "C0DEPLOYS"
    assert posted.ts
    (call,) = slack.sent("chat.postMessage")
    assert (call["to"], call["text"], call["blocks"]) == (
        "C0DEPLOYS",
        MESSAGE["text"],
        MESSAGE["blocks"],
    )


def test_a_reply_goes_into_the_thread_and_an_update_changes_the_message(
    slack: SlackServer,
) -> None:
    app = slack.app()
    posted = app.post("C0DEPLOYS", MESSAGE)

    app.post(posted.channel, {"text": "deployed"}, thread_ts=posted.ts)
    app.update(posted.channel, posted.ts, {"text": "approved", "blocks": []})

    reply = slack.sent("chat.postMessage")[-1]
    assert reply["thread_ts"] == posted.ts
    (update,) = slack.sent("chat.update")
    assert (update["to"], update["ts"], update["text"]) == ("C0DEPLOYS", posted.ts, "approved")


def test_slack_web_api_refusals_are_raised_with_slacks_error_code(slack: SlackServer) -> None:
    """Slack Web API: HTTP 200 with ``ok: false`` and an error code."""
    with pytest.raises(SlackFailed, match=r"^chat\.postMessage: invalid_auth$"):
        slack.app(token="xoxb-not-ours").post("#deploys", MESSAGE)
    with pytest.raises(SlackFailed, match="channel_not_found"):
        slack.app().post("#nowhere", MESSAGE)
    with pytest.raises(SlackFailed, match="message_not_found"):
        slack.app().update("C0DEPLOYS", "1.000009", MESSAGE)
    with pytest.raises(SlackFailed, match="channel_not_found"):  # chat.update takes ids only
        slack.app().update("#deploys", "1.000009", MESSAGE)
    assert slack.calls == []


def test_an_email_resolves_to_its_slack_user_or_to_none(slack: SlackServer) -> None:
    assert slack.app().user_id_by_email("approver@example.com") == "U0APPROVER"
    assert slack.app().user_id_by_email("nobody@example.com") is None


def test_an_ephemeral_reply_and_a_modal(slack: SlackServer) -> None:
    app = slack.app()

    app.ephemeral("C0DEPLOYS", "U0BYSTANDER", "not allowed")
    app.open_view("trigger-1", {"type": "modal", "title": {"type": "plain_text", "text": "Why"}})

    (ephemeral,) = slack.sent("chat.postEphemeral")
    assert (ephemeral["to"], ephemeral["in_channel"]) == ("U0BYSTANDER", "C0DEPLOYS")
    (view,) = slack.sent("views.open")
    assert view["text"] == "Why"


def test_slack_unreachable_is_a_slack_failure() -> None:
    with slack_server() as server:
        url = server.api_url
    with pytest.raises(SlackFailed, match=r"chat\.postMessage"):
        SlackApp("xoxb-1", url, timeout=2).post("#deploys", MESSAGE)


# --- request signatures -------------------------------------------------------------------

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = "payload=%7B%22type%22%3A%22block_actions%22%7D"


def test_a_request_signed_with_the_signing_secret_now_is_slacks() -> None:
    now = int(time.time())

    verify_request(SECRET, BODY, signed_headers(SECRET, BODY, now), now=now + 10)


def test_a_request_signed_with_another_secret_or_altered_is_refused() -> None:
    now = int(time.time())
    with pytest.raises(SlackRequestInvalid):
        verify_request(SECRET, BODY, signed_headers("another-secret", BODY, now), now=now)
    with pytest.raises(SlackRequestInvalid):
        verify_request(SECRET, BODY + "x", signed_headers(SECRET, BODY, now), now=now)
    with pytest.raises(SlackRequestInvalid):
        verify_request(SECRET, BODY, {}, now=now)


def test_a_request_older_than_five_minutes_is_refused_even_well_signed() -> None:
    """Slack's replay protection: the timestamp must be within five minutes of now."""
    signed_at = int(time.time()) - 3600

    with pytest.raises(SlackRequestInvalid):
        verify_request(SECRET, BODY, signed_headers(SECRET, BODY, signed_at), now=signed_at + 301)
    verify_request(SECRET, BODY, signed_headers(SECRET, BODY, signed_at), now=signed_at + 299)
