"""Approval links: per recipient, signed, expiring, and never carrying the task token."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from bluegreen.domain import approval as rules
from bluegreen.domain.approval import ApprovalRecord, LinkParams
from bluegreen.domain.messages import approval_email
from bluegreen.domain.slack_messages import request_message
from bluegreen.errors import ApprovalExpired, ApprovalLinkInvalid
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.builders import NOW, SIGNING_KEY, rendered, state

BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf7Yl0token-that-must-stay-in-the-backend"


def a_record(approvers: list[str] | None = None) -> ApprovalRecord:
    deployment = rendered()
    if approvers:
        service = deployment.service.model_copy(update={"approvers": approvers})
        deployment = deployment.model_copy(update={"service": service})
    return rules.record_for(deployment, "appr-123", TOKEN, NOW)


def parts(url: str) -> tuple[str, LinkParams]:
    split = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    return split.path.rsplit("/", 1)[-1], LinkParams.model_validate(query)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_the_record_describes_the_change_and_expires_after_the_service_timeout() -> None:
    record = a_record()
    deployment = rendered()

    assert record.status == "pending"
    assert record.task_token == TOKEN
    assert record.new_image == deployment.image.pinned
    assert record.previous_image == deployment.render.previous_image  # type: ignore[union-attr]
    assert record.expires_at == NOW + timedelta(seconds=3600)  # demo-web's approval timeout
    assert record.recipients == ["approver@example.com"]
    assert record.pushed_by == "ECR push"


def test_a_record_needs_a_rendered_task_definition() -> None:
    with pytest.raises(ValueError, match="rendered"):
        rules.record_for(state(), "appr-1", TOKEN, NOW)


def test_a_link_names_the_approval_and_verifies_for_its_recipient() -> None:
    record = a_record()
    url = rules.link(BASE_URL + "/", SIGNING_KEY, record, "approver@example.com")

    assert url.startswith(f"{BASE_URL}/approvals/appr-123?")
    approval_id, params = parts(url)
    assert approval_id == "appr-123"
    assert rules.verify(SIGNING_KEY, approval_id, params, NOW) == "approver@example.com"


def test_every_recipient_gets_a_different_link() -> None:
    record = a_record(["a@example.com", "b@example.com"])
    links = {rules.link(BASE_URL, SIGNING_KEY, record, r) for r in [*record.recipients]}
    links.add(rules.link(BASE_URL, SIGNING_KEY, record, rules.SLACK_VIEWER, view=True))

    assert len(links) == 3  # two people and the Slack channel's view-only link


def test_the_task_token_appears_in_no_link_email_or_slack_message() -> None:
    record = a_record(["a@example.com", "b@example.com"])
    details = rules.link(BASE_URL, SIGNING_KEY, record, rules.SLACK_VIEWER, view=True)
    slack = json.dumps(request_message(record, NOW, details))
    for recipient in record.recipients:
        url = rules.link(BASE_URL, SIGNING_KEY, record, recipient)
        email = approval_email(record, recipient, url, NOW)
        for text in (url, email.subject, email.text, email.html or "", slack):
            assert TOKEN not in text
            assert TOKEN[:24] not in text


@pytest.mark.parametrize("field", ["approval_id", "recipient", "exp", "sig"])
def test_any_altered_field_invalidates_the_link(field: str) -> None:
    record = a_record(["a@example.com", "b@example.com"])
    approval_id, params = parts(rules.link(BASE_URL, SIGNING_KEY, record, "a@example.com"))
    fields = params.model_dump()
    if field == "approval_id":
        approval_id = "appr-124"
    elif field == "recipient":
        fields["r"] = b64("b@example.com")
    elif field == "exp":
        fields["exp"] += 3600  # a longer life for the same signature
    else:
        fields["sig"] = fields["sig"][:-1] + ("A" if fields["sig"][-1] != "A" else "B")

    with pytest.raises(ApprovalLinkInvalid):
        rules.verify(SIGNING_KEY, approval_id, LinkParams(**fields), NOW)


def test_a_view_only_link_cannot_be_made_a_deciding_one_by_dropping_its_flag() -> None:
    record = a_record()
    approval_id, params = parts(
        rules.link(BASE_URL, SIGNING_KEY, record, rules.SLACK_VIEWER, view=True)
    )

    assert params.view == 1
    assert rules.verify(SIGNING_KEY, approval_id, params, NOW) == rules.SLACK_VIEWER
    with pytest.raises(ApprovalLinkInvalid):
        rules.verify(SIGNING_KEY, approval_id, params.model_copy(update={"view": 0}), NOW)


def test_a_commit_url_is_made_from_the_service_template_and_the_image_revision() -> None:
    from bluegreen.models import Provenance

    deployment = rendered()
    service = deployment.service.model_copy(
        update={"commit_url": "https://github.com/acme/web/commit/{revision}"}
    )
    labelled = deployment.model_copy(
        update={
            "service": service,
            "pushed_by": "arn:aws:iam::123456789012:user/ci",
            "provenance": Provenance(revision="3f2c1e9", source="https://github.com/acme/web"),
        }
    )

    record = rules.record_for(labelled, "appr-9", TOKEN, NOW)

    assert record.commit_url == "https://github.com/acme/web/commit/3f2c1e9"
    assert (record.revision, record.source) == ("3f2c1e9", "https://github.com/acme/web")
    assert record.pushed_by == "arn:aws:iam::123456789012:user/ci"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (23 * 3600, "in 23 hours"),
        (3600, "in 1 hour"),
        (5 * 60 + 10, "in 5 minutes"),
        (20, "in less than a minute"),
        (3 * 86400, "in 3 days"),
        (-2 * 3600, "2 hours ago"),
    ],
)
def test_an_expiry_is_said_in_words(seconds: int, words: str) -> None:
    assert rules.in_words(timedelta(seconds=seconds)) == words


def test_a_link_signed_with_another_key_is_invalid() -> None:
    approval_id, params = parts(rules.link(BASE_URL, b"another key", a_record(), "slack"))

    with pytest.raises(ApprovalLinkInvalid):
        rules.verify(SIGNING_KEY, approval_id, params, NOW)


@pytest.mark.parametrize("r", ["%%%", "a", "_-_-_", "_w"])  # "_w" is 0xFF: not UTF-8
def test_a_malformed_recipient_is_an_invalid_link_not_a_crash(r: str) -> None:
    _, params = parts(rules.link(BASE_URL, SIGNING_KEY, a_record(), "approver@example.com"))

    with pytest.raises(ApprovalLinkInvalid):
        rules.verify(SIGNING_KEY, "appr-123", params.model_copy(update={"r": r}), NOW)


def test_a_signature_with_characters_no_signature_has_is_invalid_not_a_crash() -> None:
    _, params = parts(rules.link(BASE_URL, SIGNING_KEY, a_record(), "approver@example.com"))

    with pytest.raises(ApprovalLinkInvalid):
        rules.verify(SIGNING_KEY, "appr-123", params.model_copy(update={"sig": "é" * 43}), NOW)


def test_a_link_is_valid_until_its_expiry_and_expired_from_then_on() -> None:
    record = a_record()
    approval_id, params = parts(rules.link(BASE_URL, SIGNING_KEY, record, "approver@example.com"))

    just_before = record.expires_at - timedelta(seconds=1)
    assert rules.verify(SIGNING_KEY, approval_id, params, just_before) == "approver@example.com"
    for later in (record.expires_at, record.expires_at + timedelta(days=3)):
        with pytest.raises(ApprovalExpired):
            rules.verify(SIGNING_KEY, approval_id, params, later)


def test_a_forged_expired_link_is_invalid_rather_than_expired() -> None:
    # The signature is checked first: nothing about a forged link is believed.
    record = a_record()
    approval_id, params = parts(rules.link(BASE_URL, SIGNING_KEY, record, "approver@example.com"))
    forged = params.model_copy(update={"sig": "x" * len(params.sig)})

    with pytest.raises(ApprovalLinkInvalid):
        rules.verify(SIGNING_KEY, approval_id, forged, record.expires_at + timedelta(days=1))


def test_check_open_refuses_only_a_pending_request_past_its_expiry() -> None:
    record = a_record()
    late = record.expires_at

    rules.check_open(record, late - timedelta(seconds=1))
    with pytest.raises(ApprovalExpired):
        rules.check_open(record, late)
    # A decided request stays readable after expiry: the page shows what happened.
    rules.check_open(record.model_copy(update={"status": "approved"}), late)


def test_the_callback_output_is_what_the_state_machine_keeps_as_approval() -> None:
    from bluegreen.models import ApprovalDecision

    output = rules.callback_output(a_record(), "a@example.com", NOW, "hotfix, checked")
    decision = ApprovalDecision.model_validate(output)

    assert decision.approver == "a@example.com"
    assert decision.decided_at == NOW
    assert decision.reason == "hotfix, checked"
    assert decision.approval_id == "appr-123"


def test_approval_ids_and_nonces_are_unguessable_and_url_safe() -> None:
    ids = {rules.new_approval_id() for _ in range(50)}
    nonces = {rules.new_nonce() for _ in range(50)}

    assert len(ids) == 50
    assert len(nonces) == 50
    for value in ids | nonces:
        assert len(value) >= 24
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


recipients = st.emails() | st.sampled_from(["slack"])


@given(recipient=recipients, other=recipients, key=st.binary(min_size=16, max_size=64))
def test_a_link_verifies_for_exactly_the_recipient_it_was_made_for(
    recipient: str, other: str, key: bytes
) -> None:
    record = a_record()
    approval_id, params = parts(rules.link(BASE_URL, key, record, recipient))

    assert rules.verify(key, approval_id, params, NOW) == recipient
    swapped = params.model_copy(update={"r": b64(other)})
    if other != recipient:
        with pytest.raises(ApprovalLinkInvalid):
            rules.verify(key, approval_id, swapped, NOW)
