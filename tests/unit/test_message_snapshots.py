"""What approvers read, word for word: the approval email (both parts) and the Slack
messages, against snapshots kept beside this test. A deliberate change is written back
with ``UPDATE_SNAPSHOTS=1``; review the diff before committing it.

And a hostile image: every value shown in Slack is escaped, so a tag, a commit label or a
reason can neither mention the channel nor disguise a link.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bluegreen.domain import approval as rules
from bluegreen.domain.approval import ApprovalRecord, RunningElsewhere
from bluegreen.domain.messages import approval_email, outcome_slack, refusal_slack
from bluegreen.domain.refusal import Refusal
from bluegreen.domain.slack_messages import closed_message, reject_modal, request_message
from bluegreen.models import FieldChange, Provenance, StepError

from tests.unit.builders import NOW, demo_service, push, rendered

SNAPSHOTS = Path(__file__).with_name("snapshots")
LINK = "https://approvals.example.com/approvals/appr-9?r=YXBwcm92ZXI&exp=1772451000&sig=c2ln"
DETAILS = "https://approvals.example.com/approvals/appr-9?r=c2xhY2s&exp=1772451000&view=1&sig=dg"


def a_record(**changes: Any) -> ApprovalRecord:
    deployment = rendered()
    service = deployment.service.model_copy(
        update={"commit_url": "https://github.com/acme/web/commit/{revision}"}
    )
    labelled = deployment.model_copy(
        update={
            "service": service,
            "provenance": Provenance(
                revision="3f2c1e9b7a6d5c4b3a2918f7e6d5c4b3a2918f7e",
                source="https://github.com/acme/web",
                created="2026-03-02T09:12:00Z",
            ),
        }
    )
    record = rules.record_for(labelled, "appr-9", "task-token", NOW)
    update = {
        "previous_tag": "v1.4.0",
        "slack_approvers": {"U0APPROVER": "U0APPROVER"},
        "details_link": DETAILS,
        # promoted: the environment before runs this image already
        "running_elsewhere": [
            RunningElsewhere(environment="dev", since=NOW - timedelta(minutes=12))
        ],
    }
    return record.model_copy(update={**update, **changes})


def matches_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no snapshot {name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed"


def test_the_approval_email_text_part() -> None:
    matches_snapshot(
        "approval_email.txt", approval_email(a_record(), "approver@example.com", LINK, NOW).text
    )


def test_the_approval_email_html_part() -> None:
    html = approval_email(a_record(), "approver@example.com", LINK, NOW).html
    assert html is not None
    matches_snapshot("approval_email.html", html)


def test_the_slack_request_with_its_buttons() -> None:
    message = request_message(a_record(), NOW, DETAILS)
    matches_snapshot("slack_request.json", json.dumps(message, indent=2, ensure_ascii=False) + "\n")


def test_the_slack_request_once_rejected_with_a_reason() -> None:
    decided = a_record(
        status="rejected", decided_by="Slack user U0APPROVER", decided_at=NOW, reason="too late"
    )
    message = closed_message(decided, NOW, DETAILS, "Nothing is deployed.")
    matches_snapshot(
        "slack_rejected.json", json.dumps(message, indent=2, ensure_ascii=False) + "\n"
    )


# --- escaping -----------------------------------------------------------------------------

HOSTILE = "<!channel> *bold* `tick` & <https://evil.example|your bank> <@U0BOSS>"
# Our own <...> sequences: a link we built (the commit, the details page), a date, a mention
# of a user id the configuration listed.
OURS = re.compile(
    r"<(?:https://github\.com/acme/web/commit/[^|>]+|"
    + re.escape(DETAILS)
    + r")\|[^<>]*>|<!date\^\d+\^[^|<>]+\|[^<>]+>|<@U0APPROVER>"
)


def mrkdwn_texts(document: Any) -> list[str]:
    """Every string Slack reads as mrkdwn: block texts, fields, and the fallback text."""
    found: list[str] = []
    if isinstance(document, dict):
        if document.get("type") == "mrkdwn" or (
            "text" in document and isinstance(document["text"], str) and "blocks" in document
        ):
            found.append(str(document["text"]))
        for value in document.values():
            found += mrkdwn_texts(value)
    elif isinstance(document, list):
        for item in document:
            found += mrkdwn_texts(item)
    return found


def hostile_messages() -> list[dict[str, Any]]:
    change = FieldChange(path=HOSTILE, before=HOSTILE, after=HOSTILE)
    record = a_record(
        image_tag=HOSTILE,
        service=HOSTILE,
        environment=HOSTILE,
        cluster=HOSTILE,
        ecs_service=HOSTILE,
        pushed_by=HOSTILE,
        revision=HOSTILE,
        previous_tag=HOSTILE,
        new_image=HOSTILE,
        previous_image=HOSTILE,
        changes=[change],
    )
    decided = record.model_copy(
        update={"status": "rejected", "decided_by": HOSTILE, "decided_at": NOW, "reason": HOSTILE}
    )
    superseded = record.model_copy(update={"status": "superseded", "decided_by": HOSTILE})
    failed = rendered().model_copy(update={"error": StepError(Error=HOSTILE, Cause=HOSTILE)})
    refusal = Refusal.of_push(demo_service(), push(tag=HOSTILE), HOSTILE, NOW)
    return [
        request_message(record, NOW, DETAILS),
        closed_message(decided, NOW, DETAILS, HOSTILE),
        closed_message(superseded, NOW, DETAILS),
        reject_modal(record),
        outcome_slack(failed),
        refusal_slack(refusal),
    ]


@pytest.mark.parametrize("index", range(6))
def test_every_value_shown_in_slack_is_escaped(index: int) -> None:
    message = hostile_messages()[index]
    texts = mrkdwn_texts(message)
    assert texts

    for text in texts:
        left = OURS.sub("", text)
        assert "<" not in left, text  # no mention, no link of the value's own
        assert ">" not in left, text
        assert "&lt;!channel&gt;" in text or "channel" not in text
    shown = json.dumps(message)
    assert "<!channel>" not in shown
    assert "<https://evil.example" not in shown
    assert "<@U0BOSS>" not in shown
