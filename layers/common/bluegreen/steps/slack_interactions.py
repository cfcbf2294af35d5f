"""Clicks in Slack: Approve decides at once, Reject asks for a reason in a modal first.

The request reaching here is verified already (Slack's signature). The Slack user who
clicked is the approver: only the users the request lists may decide; anyone else, and any
click on a request that can take no decision (superseded, expired, decided), gets an
ephemeral refusal and changes nothing. Decisions go through :func:`approval.decide_in_slack`,
the same one-decision store logic as the email links.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import Any

from bluegreen.domain.approval import ApprovalRecord
from bluegreen.domain.slack_messages import (
    APPROVE,
    REASON_BLOCK,
    REJECT,
    REJECT_MODAL,
    refusal,
    reject_modal,
)
from bluegreen.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalNotFound,
    ApproverNotAllowed,
    SlackFailed,
    Superseded,
)
from bluegreen.steps.approval import (
    ApprovalStore,
    Callbacks,
    Slack,
    check_decidable,
    decide_in_slack,
    show_in_slack,
)

# What a refused click is told, by why it was refused.
_REFUSED = (ApproverNotAllowed, Superseded, ApprovalExpired, ApprovalAlreadyDecided)


def refusal_words(error: Exception, record: ApprovalRecord | None) -> str:
    if isinstance(error, ApproverNotAllowed):
        service = record.service if record else "this service"
        return refusal("Not allowed", f"You are not one of the Slack approvers of {service}.")
    if isinstance(error, Superseded):
        return refusal("Superseded", f"This request was {error}; it accepts no decision.")
    if isinstance(error, ApprovalExpired):
        return refusal("Expired", "This request has expired.")
    if isinstance(error, ApprovalAlreadyDecided) and record is not None:
        by = f" by {record.decided_by}" if record.decided_by else ""
        return refusal("Already decided", f"This request was already {record.status}{by}.")
    if isinstance(error, ApprovalNotFound):
        return refusal("Not found", "There is no such approval request.")
    return refusal("Already decided", "This request was already decided.")


def interact(
    payload: dict[str, Any],
    store: ApprovalStore,
    callbacks: Callbacks,
    slack: Slack,
    now: datetime,
    after_approval: Callable[[ApprovalRecord], str] | None = None,
) -> dict[str, Any] | None:
    """Answer one interaction payload; the JSON body Slack expects back (None: empty 200)."""
    kind = payload.get("type")
    if kind == "block_actions":
        _click(payload, store, callbacks, slack, now, after_approval)
        return None
    if kind == "view_submission" and payload.get("view", {}).get("callback_id") == REJECT_MODAL:
        return _reject_submitted(payload, store, callbacks, slack, now)
    return None  # nothing of ours (a modal closed, a shortcut): acknowledged, ignored


def _click(
    payload: dict[str, Any],
    store: ApprovalStore,
    callbacks: Callbacks,
    slack: Slack,
    now: datetime,
    after_approval: Callable[[ApprovalRecord], str] | None,
) -> None:
    actions = payload.get("actions") or [{}]
    action_id = str(actions[0].get("action_id", ""))
    approval_id = str(actions[0].get("value", ""))
    user = str(payload.get("user", {}).get("id", ""))
    channel = str(
        payload.get("channel", {}).get("id") or payload.get("container", {}).get("channel_id", "")
    )
    if action_id not in (APPROVE, REJECT) or not approval_id:
        return
    record: ApprovalRecord | None = None
    try:
        record = store.get_approval(approval_id)
        if action_id == APPROVE:
            decided = decide_in_slack(approval_id, user, "approve", None, store, callbacks, now)
            note = after_approval(decided) if after_approval else None
            show_in_slack(decided, slack, now, note)
            return
        record.slack_approver(user)  # only a listed approver gets the modal
        check_decidable(record, now)
        slack.open_view(str(payload.get("trigger_id", "")), reject_modal(record))
    except (*_REFUSED, ApprovalNotFound) as error:
        _refuse(error, approval_id, record, user, channel, store, slack, now)


def _refuse(
    error: Exception,
    approval_id: str,
    record: ApprovalRecord | None,
    user: str,
    channel: str,
    store: ApprovalStore,
    slack: Slack,
    now: datetime,
) -> None:
    """Tell the user why nothing changed; make the message say what the request became."""
    if not isinstance(error, ApproverNotAllowed | ApprovalNotFound):
        record = store.get_approval(approval_id)  # as it is now, after the refusal
        if record.status == "pending":  # past its expiry, never marked: say so
            record = record.model_copy(update={"status": "expired"})
        show_in_slack(record, slack, now)
    if channel and user:
        with suppress(SlackFailed):  # the click changed nothing either way
            slack.ephemeral(channel, user, refusal_words(error, record))


def _reject_submitted(
    payload: dict[str, Any],
    store: ApprovalStore,
    callbacks: Callbacks,
    slack: Slack,
    now: datetime,
) -> dict[str, Any] | None:
    view = payload.get("view", {})
    approval_id = str(view.get("private_metadata", ""))
    user = str(payload.get("user", {}).get("id", ""))
    values = view.get("state", {}).get("values", {})
    reason = values.get(REASON_BLOCK, {}).get(REASON_BLOCK, {}).get("value")
    record: ApprovalRecord | None = None
    try:
        record = store.get_approval(approval_id)
        decided = decide_in_slack(approval_id, user, "reject", reason, store, callbacks, now)
    except (*_REFUSED, ApprovalNotFound) as error:
        # The modal stays open and says why: the request changed while it was open.
        return {
            "response_action": "errors",
            "errors": {REASON_BLOCK: refusal_words(error, record).replace("*", "")[:150]},
        }
    show_in_slack(decided, slack, now, "Nothing is deployed.")
    return None
