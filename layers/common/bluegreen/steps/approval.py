"""Ask for approval (store the token, send links) and take the decision (verify, decide once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bluegreen.domain import approval as rules
from bluegreen.domain.approval import ApprovalRecord, Decision, LinkParams, Status
from bluegreen.domain.messages import Email, approval_email, approval_slack
from bluegreen.errors import (
    ApprovalExpired,
    ApproversUnreachable,
    AwsThrottled,
    MailRefused,
    Superseded,
)

if TYPE_CHECKING:  # RequestApproval's input: the approval API never builds the state's models
    from bluegreen.models import ApprovalTask


class ApprovalStore(Protocol):
    def put_approval(self, record: ApprovalRecord) -> None: ...
    def get_approval(self, approval_id: str) -> ApprovalRecord: ...
    def decide(self, approval_id: str, status: Status, by: str, at: datetime) -> None: ...
    def expire(self, approval_id: str) -> None: ...
    def put_nonce(
        self, approval_id: str, nonce: str, recipient: str, expires: datetime
    ) -> None: ...
    def consume_nonce(
        self, approval_id: str, nonce: str, recipient: str, now: datetime
    ) -> None: ...


class Queue(Protocol):
    def attach_approval(self, key: str, execution: str, approval_id: str) -> None: ...


class Mailer(Protocol):
    def send(self, email: Email) -> str: ...


class Chat(Protocol):
    def post(self, payload: dict[str, Any]) -> None: ...


class Callbacks(Protocol):
    def succeed(self, token: str, output: dict[str, Any]) -> None: ...
    def fail(self, token: str, error: str, cause: str) -> None: ...


@dataclass(frozen=True)
class Unreached:
    """An approver the request could not be sent to, and why (words fit for a user)."""

    recipient: str
    reason: str


@dataclass(frozen=True)
class Requested:
    approval_id: str
    emailed: list[str]
    unreached: list[Unreached]
    slack_sent: bool
    slack_error: str | None = None  # Slack is a courtesy when emails carry the links

    @property
    def emails_sent(self) -> int:
        return len(self.emailed)


def request(
    task: ApprovalTask,
    store: ApprovalStore,
    queue: Queue,
    mailer: Mailer,
    chat: Chat | None,
    secret: bytes,
    base_url: str,
    now: datetime,
) -> Requested:
    """Store the request, then send every approver their link and post to Slack.

    One approver the mail service refuses (an unverified address in the SES sandbox) does
    not stop the others. The step fails only when nobody could be reached: with
    ``AwsThrottled`` when SES throttled (nothing was sent, so a retry sends no duplicate),
    else with ``ApproversUnreachable``, naming who and why.
    """
    record = rules.record_for(task.state, rules.new_approval_id(), task.task_token, now)
    store.put_approval(record)
    try:
        # Noted on the service's queue before anyone holds a link: a newer image that
        # arrives from now on closes this request; one that came first ends us here.
        queue.attach_approval(
            task.state.service.lock_key, record.execution_name, record.approval_id
        )
    except Superseded as e:
        store.decide(record.approval_id, "superseded", e.by or "a newer image", now)
        raise
    emailed: list[str] = []
    unreached: list[Unreached] = []
    throttled = False
    for recipient in task.state.service.approvers:
        email = approval_email(record, recipient, rules.link(base_url, secret, record, recipient))
        try:
            mailer.send(email)
        except MailRefused as e:
            unreached.append(Unreached(recipient, e.reason))
            continue
        except AwsThrottled:
            throttled = True
            unreached.append(Unreached(recipient, "SES throttled the request"))
            continue
        emailed.append(recipient)
    slack_error = None
    if chat is not None:
        try:
            chat.post(approval_slack(record, rules.link(base_url, secret, record, "slack")))
        except (OSError, ValueError) as e:
            slack_error = f"Slack post failed: {type(e).__name__}"
    slack_sent = chat is not None and slack_error is None
    if not emailed and not slack_sent:
        # Nobody holds a link: the request must not look open.
        store.expire(record.approval_id)
        if throttled:
            raise AwsThrottled("SES throttled every approval email; nothing was sent")
        slack = slack_error or "not configured"
        raise ApproversUnreachable(
            "no approver could be reached: "
            + "; ".join(f"{u.recipient}: {u.reason}" for u in unreached)
            + f"; Slack: {slack}"
        )
    return Requested(record.approval_id, emailed, unreached, slack_sent, slack_error)


@dataclass(frozen=True)
class Review:
    """What the approval page shows: the request, and a fresh one-time form if still open."""

    record: ApprovalRecord
    recipient: str
    nonce: str | None


def review(
    approval_id: str, params: LinkParams, store: ApprovalStore, secret: bytes, now: datetime
) -> Review:
    recipient = rules.verify(secret, approval_id, params, now)
    record = store.get_approval(approval_id)
    rules.check_open(record, now)
    if record.status != "pending":
        return Review(record, recipient, None)
    nonce = rules.new_nonce()
    store.put_nonce(approval_id, nonce, recipient, min(now + rules.NONCE_TTL, record.expires_at))
    return Review(record, recipient, nonce)


def decide(
    approval_id: str,
    params: LinkParams,
    nonce: str,
    decision: Decision,
    store: ApprovalStore,
    callbacks: Callbacks,
    secret: bytes,
    now: datetime,
) -> ApprovalRecord:
    """Verify the link, spend the nonce, record the decision once, then tell Step Functions."""
    recipient = rules.verify(secret, approval_id, params, now)
    record = store.get_approval(approval_id)
    rules.check_open(record, now)
    if record.status == "superseded":
        raise Superseded(f"superseded by {record.decided_by}", by=record.decided_by)
    store.consume_nonce(approval_id, nonce, recipient, now)
    status: Literal["approved", "rejected"] = "approved" if decision == "approve" else "rejected"
    store.decide(approval_id, status, recipient, now)  # exactly one decision gets past here
    try:
        if status == "approved":
            callbacks.succeed(record.task_token, rules.callback_output(recipient, now))
        else:
            callbacks.fail(record.task_token, "ApprovalRejected", f"rejected by {recipient}")
    except ApprovalExpired:
        # The execution stopped waiting (timed out, aborted): the record must not claim
        # a decision that changed nothing.
        store.expire(approval_id)
        raise
    return record.model_copy(update={"status": status, "decided_by": recipient, "decided_at": now})
