"""Ask for approval (store the token, send links) and take the decision (verify, decide once)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bluegreen.domain import approval as rules
from bluegreen.domain.approval import ApprovalRecord, Decision, LinkParams, Status
from bluegreen.domain.messages import Email, approval_email
from bluegreen.domain.slack_messages import closed_message, request_message
from bluegreen.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalLinkInvalid,
    ApproversUnreachable,
    AwsThrottled,
    MailRefused,
    SlackFailed,
    Superseded,
)

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # RequestApproval's input: the approval API never builds the state's models
    from bluegreen.adapters.slack import Posted
    from bluegreen.domain.promotion import EnvironmentRun
    from bluegreen.models import ApprovalTask, DeploymentState, SlackSettings


class ApprovalStore(Protocol):
    def put_approval(self, record: ApprovalRecord) -> None: ...
    def get_approval(self, approval_id: str) -> ApprovalRecord: ...
    def decide(
        self, approval_id: str, status: Status, by: str, at: datetime, reason: str | None = None
    ) -> None: ...
    def expire(self, approval_id: str, only_pending: bool = False) -> bool: ...
    def set_slack_message(self, approval_id: str, channel: str, ts: str) -> None: ...
    def put_nonce(
        self, approval_id: str, nonce: str, recipient: str, expires: datetime
    ) -> None: ...
    def consume_nonce(
        self, approval_id: str, nonce: str, recipient: str, now: datetime
    ) -> None: ...


class Queue(Protocol):
    def attach_approval(self, key: str, execution: str, approval_id: str) -> None: ...


class Runs(Protocol):
    def runs(self, service: str) -> list[EnvironmentRun]: ...


class Mailer(Protocol):
    def send(self, email: Email) -> str: ...


class Slack(Protocol):
    def post(
        self, channel: str, message: dict[str, Any], thread_ts: str | None = None
    ) -> Posted: ...
    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None: ...
    def ephemeral(self, channel: str, user: str, text: str) -> None: ...
    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None: ...
    def user_id_by_email(self, email: str) -> str | None: ...


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
    slack_sent: bool  # posted with buttons that at least one listed Slack user may click
    slack_error: str | None = None  # Slack is a courtesy when emails carry the links

    @property
    def emails_sent(self) -> int:
        return len(self.emailed)


def slack_approvers(
    settings: SlackSettings, slack: Slack
) -> tuple[dict[str, str], list[Unreached]]:
    """Who may click, by Slack user id (-> as listed), and the listed emails Slack knows not.

    Resolved once, when the request is made: the record keeps who may decide it.
    """
    found: dict[str, str] = {}
    missing: list[Unreached] = []
    for listed in settings.approvers:
        if "@" not in listed:
            found.setdefault(listed, listed)
            continue
        try:
            user = slack.user_id_by_email(listed)
        except SlackFailed as e:
            missing.append(Unreached(f"Slack {listed}", f"Slack lookup failed ({e})"))
            continue
        if user is None:
            missing.append(Unreached(f"Slack {listed}", "no Slack user has this email"))
        else:
            found.setdefault(user, listed)
    return found, missing


def request(
    task: ApprovalTask,
    store: ApprovalStore,
    queue: Queue,
    mailer: Mailer,
    slack: Slack | None,
    secret: bytes,
    base_url: str,
    now: datetime,
    runs: Runs | None = None,
) -> Requested:
    """Store the request, then send every approver their link and post it to Slack.

    It says which other environments of the service run the image already, and since when
    (``runs``: what each environment runs by our record).

    One approver the mail service refuses (an unverified address in the SES sandbox) does
    not stop the others. The step fails only when nobody could be reached: with
    ``AwsThrottled`` when SES throttled (nothing was sent, so a retry sends no duplicate),
    else with ``ApproversUnreachable``, naming who and why.
    """
    elsewhere = running_elsewhere(task.state, runs)
    record = rules.record_for(task.state, rules.new_approval_id(), task.task_token, now, elsewhere)
    settings = task.state.service.slack if slack is not None else None
    unreached: list[Unreached] = []
    if settings is not None and slack is not None:
        allowed, unresolved = slack_approvers(settings, slack)
        unreached += unresolved
        details = rules.link(base_url, secret, record, rules.SLACK_VIEWER, view=True)
        record = record.model_copy(update={"slack_approvers": allowed, "details_link": details})
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
    throttled = False
    for recipient in task.state.service.approvers:
        link = rules.link(base_url, secret, record, recipient)
        try:
            mailer.send(approval_email(record, recipient, link, now))
        except MailRefused as e:
            unreached.append(Unreached(recipient, e.reason))
            continue
        except AwsThrottled:
            throttled = True
            unreached.append(Unreached(recipient, "SES throttled the request"))
            continue
        emailed.append(recipient)
    slack_error = None
    if settings is not None and slack is not None:
        try:
            posted = slack.post(settings.channel, request_message(record, now, record.details_link))
            store.set_slack_message(record.approval_id, posted.channel, posted.ts)
        except SlackFailed as e:
            slack_error = f"Slack post failed: {e}"
    slack_sent = settings is not None and slack_error is None and bool(record.slack_approvers)
    if not emailed and not slack_sent:
        # Nobody can decide: the request must not look open.
        store.expire(record.approval_id)
        if throttled:
            raise AwsThrottled("SES throttled every approval email; nothing was sent")
        if settings is None:
            slack_words = "not configured"
        else:
            slack_words = slack_error or "no Slack approver could be found"
        raise ApproversUnreachable(
            "no approver could be reached: "
            + "; ".join(f"{u.recipient}: {u.reason}" for u in unreached)
            + f"; Slack: {slack_words}"
        )
    return Requested(record.approval_id, emailed, unreached, slack_sent, slack_error)


def running_elsewhere(state: DeploymentState, runs: Runs | None) -> list[rules.RunningElsewhere]:
    """The service's other environments that run this image, by our record. Context for
    the approvers: a record that cannot be read leaves it out, it never stops the request."""
    if runs is None or len(state.service.pipeline) < 2:
        return []
    from bluegreen.domain.promotion import elsewhere

    try:
        found = runs.runs(state.service.name)
    except Exception:
        log.warning("what the other environments run could not be read", exc_info=True)
        return []
    order = {name: at for at, name in enumerate(state.service.pipeline)}
    return [
        rules.RunningElsewhere(environment=run.environment, since=run.since)
        for run in sorted(
            elsewhere(found, state.image, state.service.environment),
            key=lambda run: order.get(run.environment, len(order)),
        )
    ]


@dataclass(frozen=True)
class Review:
    """What the approval page shows: the request, and a fresh one-time form if still open."""

    record: ApprovalRecord
    recipient: str
    nonce: str | None
    view_only: bool = False  # the link posted to Slack: it shows, the buttons decide


def review(
    approval_id: str, params: LinkParams, store: ApprovalStore, secret: bytes, now: datetime
) -> Review:
    recipient = rules.verify(secret, approval_id, params, now)
    record = store.get_approval(approval_id)
    rules.check_open(record, now)
    if record.status != "pending" or params.view:
        return Review(record, recipient, None, view_only=params.view == 1)
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
    reason: str | None = None,
) -> ApprovalRecord:
    """Verify the link, spend the nonce, record the decision once, then tell Step Functions."""
    recipient = rules.verify(secret, approval_id, params, now)
    if params.view:
        raise ApprovalLinkInvalid("a view-only link decides nothing")
    record = store.get_approval(approval_id)
    check_decidable(record, now)
    store.consume_nonce(approval_id, nonce, recipient, now)
    return settle(record, recipient, decision, reason, store, callbacks, now)


def decide_in_slack(
    approval_id: str,
    user_id: str,
    decision: Decision,
    reason: str | None,
    store: ApprovalStore,
    callbacks: Callbacks,
    now: datetime,
) -> ApprovalRecord:
    """A click Slack signed: the user must be one the request lists; then as :func:`decide`."""
    record = store.get_approval(approval_id)
    approver = record.slack_approver(user_id)
    check_decidable(record, now)
    return settle(record, approver, decision, reason, store, callbacks, now)


def check_decidable(record: ApprovalRecord, now: datetime) -> None:
    """Refuse a request that can take no decision: expired, superseded, or decided."""
    rules.check_open(record, now)
    if record.status == "superseded":
        raise Superseded(f"superseded by {record.decided_by}", by=record.decided_by)
    if record.status == "expired":
        raise ApprovalExpired("the approval request has expired")
    if record.status != "pending":
        raise ApprovalAlreadyDecided(f"this request was already {record.status}")


def settle(
    record: ApprovalRecord,
    approver: str,
    decision: Decision,
    reason: str | None,
    store: ApprovalStore,
    callbacks: Callbacks,
    now: datetime,
) -> ApprovalRecord:
    """Record the decision once (a conditional write), then answer the execution's task."""
    status: Literal["approved", "rejected"] = "approved" if decision == "approve" else "rejected"
    reason = rules.clean_reason(reason)
    # Exactly one decision gets past here, whichever channel it came from.
    store.decide(record.approval_id, status, approver, now, reason)
    try:
        if status == "approved":
            callbacks.succeed(
                record.task_token, rules.callback_output(record, approver, now, reason)
            )
        else:
            callbacks.fail(
                record.task_token, "ApprovalRejected", rules.rejection_cause(approver, reason)
            )
    except ApprovalExpired:
        # The execution stopped waiting (timed out, aborted): the record must not claim
        # a decision that changed nothing.
        store.expire(record.approval_id)
        raise
    return record.model_copy(
        update={"status": status, "decided_by": approver, "decided_at": now, "reason": reason}
    )


def show_in_slack(
    record: ApprovalRecord, slack: Slack | None, now: datetime, note: str | None = None
) -> str | None:
    """Update the request's Slack message to what became of it; the problem, if any.

    Best effort: the decision is made and kept whether Slack shows it or not.
    """
    if slack is None or not record.slack_channel or not record.slack_ts:
        return None
    try:
        slack.update(
            record.slack_channel,
            record.slack_ts,
            closed_message(record, now, record.details_link, note),
        )
    except SlackFailed as e:
        return f"Slack update failed: {e}"
    return None
