"""What Slack shows: approval requests with Approve/Reject buttons, their decision, the
reject modal, refusals. Block Kit documents, built from the approval record.

Every value that comes from outside (tags, commit labels, who pushed, reasons, task
definition fields) goes through :func:`escape`: Slack's mrkdwn reads ``<!channel>``,
``<@U123>`` and ``<https://x|text>`` as a mention or a disguised link, so ``&``, ``<`` and
``>`` become entities, as Slack's formatting guide asks. Values inside code spans also lose
their backticks, which would end the span. The only ``<...>`` sequences left are our own:
the commit link, the read-only details link, a date, a user id Slack signed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bluegreen.domain.approval import in_words, lasting

if TYPE_CHECKING:
    from bluegreen.changes import FieldChange
    from bluegreen.domain.approval import ApprovalRecord

APPROVE = "approve"
REJECT = "reject"
REJECT_MODAL = "reject_reason"
REASON_BLOCK = "reason"
_CHANGES_SHOWN = 8
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


def escape(value: object) -> str:
    """``value`` as mrkdwn text that Slack shows as written: no mention, no link."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(value: object) -> str:
    """``value`` in a code span; a backtick in it would end the span early."""
    return "`" + escape(value).replace("`", "\u02cb") + "`"


def link(url: str | None, label: str) -> str:
    """A link we made (an https URL we built), labelled with an escaped text."""
    text = escape(label).replace("|", "\u2223")
    if url and _SAFE_URL.match(url):
        return f"<{url}|{text}>"
    return text


def mention(user_id: str) -> str:
    """A user id from a request Slack signed, as a mention; anything else, escaped."""
    return f"<@{user_id}>" if _SLACK_USER.match(user_id) else escape(user_id)


def when(at: datetime) -> str:
    """A time each reader sees in their own time zone, UTC as the fallback text."""
    fallback = f"{at:%Y-%m-%d %H:%M} UTC"
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def short_image(image: str | None) -> str:
    if not image:
        return "(unknown)"
    name, _, digest = image.rpartition("@")
    return f"{name.rsplit('/', 1)[-1]}@{digest[:19]}" if digest else image


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def title(r: ApprovalRecord) -> str:
    return f"*Deploy {code(r.image_tag)} to {escape(r.service)} ({escape(r.environment)})?*"


def fallback_text(r: ApprovalRecord) -> str:
    """The notification's text (Slack parses it too: escaped as well)."""
    return escape(f"Approve {r.service} {r.image_tag} to {r.environment}? Pushed by {r.pushed_by}")


def commit(r: ApprovalRecord) -> str:
    if not r.revision:
        return "(no commit label on the image)"
    return link(r.commit_url, r.revision[:12])


def running(r: ApprovalRecord) -> str:
    shown = code(short_image(r.previous_image))
    return f"{code(r.previous_tag)} {shown}" if r.previous_tag else shown


def _change(c: FieldChange) -> str:
    """One changed field; a side it lacks reads (none); a note with neither is a line."""
    if c.before is None and c.after is None:
        return escape(c.path)
    before, after = (escape("(none)" if v is None else v) for v in (c.before, c.after))
    return f"{escape(c.path)}: {before} \u2192 {after}"


def already_running(r: ApprovalRecord, now: datetime) -> str:
    """``dev since <date> (for 12 minutes)``: each date in the reader's own time zone."""
    return "\n".join(
        f"{escape(e.environment)} since {when(e.since)} ({lasting(now - e.since)})"
        for e in r.running_elsewhere
    )


def context_blocks(r: ApprovalRecord, now: datetime, details: str | None) -> list[dict[str, Any]]:
    """What an approver judges by: the same facts as the email and the page."""
    fields = [
        f"*Service*\n{escape(r.cluster)}/{escape(r.ecs_service)}",
        f"*Pushed by*\n{escape(r.pushed_by)}",
        f"*Commit*\n{commit(r)}",
        f"*New image*\n{code(short_image(r.new_image))}",
        f"*Production runs*\n{running(r)}",
        f"*Expires*\n{when(r.expires_at)} ({in_words(r.expires_at - now)})",
    ]
    if r.running_elsewhere:
        fields.insert(4, f"*Already runs in*\n{already_running(r, now)}")
    changes = [_change(c) for c in r.changes[:_CHANGES_SHOWN]]
    more = len(r.changes) - _CHANGES_SHOWN
    if more > 0:
        changes.append(f"\u2026 and {more} more")
    diff = (
        "\n".join(changes).replace("`", "\u02cb") if changes else "no change besides the revision"
    )
    blocks: list[dict[str, Any]] = [
        _section(title(r)),
        {"type": "section", "fields": [_mrkdwn(f) for f in fields]},
        _section(f"*Task definition changes*\n```{diff}```"),
    ]
    if details:
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn(f"{link(details, 'Details')} (the page only shows it)")],
            }
        )
    return blocks


def request_message(r: ApprovalRecord, now: datetime, details: str | None) -> dict[str, Any]:
    """The request: its context and the buttons. Only the listed approvers' clicks count."""
    who = ", ".join(mention(u) for u in r.slack_approvers) or "nobody (email only)"
    buttons = {
        "type": "actions",
        "block_id": "decision",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": r.approval_id,
            },
            {
                "type": "button",
                "action_id": REJECT,
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": r.approval_id,
            },
        ],
    }
    may = {"type": "context", "elements": [_mrkdwn(f"Approvers: {who}")]}
    blocks = [*context_blocks(r, now, details), may, buttons]
    return {"text": fallback_text(r), "blocks": blocks}


def _closing_line(r: ApprovalRecord) -> str:
    by = escape(r.decided_by or "")
    at = f" {when(r.decided_at)}" if r.decided_at else ""
    reason = f": {escape(r.reason)}" if r.reason else ""
    if r.status == "approved":
        return f":white_check_mark: *Approved* by {by}{at}{reason}"
    if r.status == "rejected":
        return f":no_entry: *Rejected* by {by}{at}{reason}"
    if r.status == "superseded":
        return f":fast_forward: *Superseded* by {by}: this request accepts no decision"
    if r.status == "expired":
        return f":hourglass: *Expired* {when(r.expires_at)}: nobody decided in time"
    return ":hourglass_flowing_sand: Waiting for a decision"


def closed_message(
    r: ApprovalRecord, now: datetime, details: str | None, note: str | None = None
) -> dict[str, Any]:
    """The request as it ends: no buttons, and what became of it (``note``: what follows)."""
    line = _closing_line(r) + (f"\n{escape(note)}" if note else "")
    blocks = [*context_blocks(r, now, details), _section(line)]
    state = {"approved": "approved", "rejected": "rejected"}.get(r.status, r.status)
    text = escape(f"{r.service} {r.image_tag} to {r.environment}: {state}")
    return {"text": text, "blocks": blocks}


def reject_modal(r: ApprovalRecord) -> dict[str, Any]:
    """Asks the rejecting approver why (optional); the submission rejects the request."""
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": r.approval_id,
        "title": {"type": "plain_text", "text": "Reject deployment"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _section(
                f"Reject {code(r.image_tag)} of *{escape(r.service)}* "
                f"({escape(r.environment)})? Nothing is deployed."
            ),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_BLOCK,
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }


def refusal(heading: str, text: str) -> str:
    """An ephemeral answer to a click that changed nothing."""
    return f"*{escape(heading)}*: {escape(text)} Nothing was changed."
