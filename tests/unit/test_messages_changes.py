"""A release rendered from a template changes more than an image: approvers read fields
added and removed, and a note when there are more than the request carries."""

from __future__ import annotations

import json

from bluegreen.domain import approval as rules
from bluegreen.domain.messages import approval_email
from bluegreen.domain.slack_messages import request_message
from bluegreen.models import FieldChange

from tests.unit.builders import NOW, rendered

LINK = "https://approvals.example.com/approvals/appr-9?r=YQ&exp=1772447400&sig=c2ln"
NOTE = "... and 40 more changed fields: bluegreen diff lists every one"
CHANGES = [
    FieldChange(
        path="containerDefinitions[web].environment[LOG_LEVEL].value", before=None, after="info"
    ),
    FieldChange(path="containerDefinitions[web].environment[DEBUG].value", before="1", after=None),
    FieldChange(path=NOTE, before=None, after=None),
]


def a_record() -> rules.ApprovalRecord:
    return rules.record_for(rendered(), "appr-9", "token", NOW).model_copy(
        update={"changes": CHANGES}
    )


def test_the_email_says_none_for_a_side_a_field_lacks_and_shows_the_note_alone() -> None:
    email = approval_email(a_record(), "approver@example.com", LINK, NOW)

    assert (
        "  containerDefinitions[web].environment[LOG_LEVEL].value: (none) -> info\n" in email.text
    )
    assert "  containerDefinitions[web].environment[DEBUG].value: 1 -> (none)\n" in email.text
    assert f"  {NOTE}\n" in email.text
    assert email.html is not None
    assert "None" not in email.text + email.html
    assert "+ info" in email.html
    assert "- 1" in email.html
    assert NOTE in email.html


def test_slack_says_none_for_a_side_a_field_lacks_and_shows_the_note_alone() -> None:
    text = json.dumps(request_message(a_record(), NOW, None), ensure_ascii=False)

    assert "environment[LOG_LEVEL].value: (none) \u2192 info" in text
    assert "environment[DEBUG].value: 1 \u2192 (none)" in text
    assert f"\\n{NOTE}" in text
    assert "None" not in text
