"""Newest wins on `bluegreen local serve --sample`, driven with boto3 and HTTP only: a newer
push ends the older one's pending approval (its link refuses a decision), and approving the
newer deploys it."""

from __future__ import annotations

import secrets

import pytest

from tests.e2e.support import (
    approval_link,
    approve,
    decision_form,
    executions_for,
    finished,
    http,
    production_image,
    push,
    wait,
)

pytestmark = pytest.mark.e2e


def test_a_newer_push_supersedes_the_pending_one_and_deploys_when_approved(endpoint: str) -> None:
    older_tag, newer_tag = secrets.token_hex(4)[:7], secrets.token_hex(4)[:7]
    older = push(endpoint, older_tag)
    older_link = wait(lambda: approval_link(endpoint, older_tag), 60, "the older approval email")
    status, page = http(older_link)
    assert status == 200
    target, nonce = decision_form(page, older_link)  # a form the approver opened earlier

    newer = push(endpoint, newer_tag)
    (superseded,) = executions_for(endpoint, older)
    ended = finished(endpoint, superseded["executionArn"], timeout=60)

    assert ended["status"] == "FAILED"
    assert ended["error"] == "Superseded"
    assert newer_tag in ended["cause"]
    status, page = http(older_link)
    assert status == 200
    assert f"superseded by {newer_tag}" in page
    assert 'name="nonce"' not in page
    status, page = http(target, {"nonce": nonce, "decision": "approve"})
    assert status == 409
    assert f"superseded by {newer_tag}" in page

    newer_link = wait(lambda: approval_link(endpoint, newer_tag), 60, "the newer approval email")
    assert approve(newer_link) == 200
    (deploying,) = executions_for(endpoint, newer)
    assert finished(endpoint, deploying["executionArn"])["status"] == "SUCCEEDED"
    assert production_image(endpoint).endswith(f"@{newer}")
