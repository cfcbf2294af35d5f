"""Approval links: per recipient, signed, expiring; decisions: one-time and conditional.

A link only *shows* the request (mail scanners and chat unfurlers follow GET links). The
page carries a one-time nonce; the decision is a POST that presents it. The Step Functions
task token never leaves the backend: links name an approval id, not the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict

from bluegreen.changes import FieldChange
from bluegreen.errors import ApprovalExpired, ApprovalLinkInvalid, ApproverNotAllowed

if TYPE_CHECKING:  # the approval API reads records only: it never builds the state's models
    from bluegreen.models import DeploymentState

Decision = Literal["approve", "reject"]
Status = Literal["pending", "approved", "rejected", "expired", "superseded"]

NONCE_TTL = timedelta(minutes=30)
# The read-only link posted to Slack names this recipient: the channel, not a person.
SLACK_VIEWER = "slack"
REASON_MAX_CHARS = 500


class RunningElsewhere(BaseModel):
    """Another environment of the service that runs the image asked for, by our record."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    environment: str
    since: datetime

    def words(self, now: datetime) -> str:
        """``dev since 2026-03-02 14:02 UTC (for 12 minutes)``"""
        since = f"{self.since:%Y-%m-%d %H:%M} UTC"
        return f"{self.environment} since {since} ({lasting(now - self.since)})"


class ApprovalRecord(BaseModel):
    """What the backend keeps about one approval request (the task token stays here)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    approval_id: str
    execution_name: str
    task_token: str
    service: str
    environment: str
    cluster: str
    ecs_service: str
    image_tag: str
    new_image: str
    previous_image: str | None
    previous_task_definition: str
    task_definition: str
    changes: list[FieldChange]
    recipients: list[str]
    created_at: datetime
    expires_at: datetime
    status: Status = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    # What an approver judges by, besides the images: who pushed, and which commit.
    pushed_by: str = "ECR push"
    previous_tag: str | None = None
    revision: str | None = None
    source: str | None = None
    created: str | None = None
    commit_url: str | None = None
    # How the environment deploys: what approving lets happen (the review page says it).
    method: Literal["codedeploy-bluegreen", "rolling"] = "codedeploy-bluegreen"
    # Slack: who may click (user id -> as the configuration lists them), and the message.
    slack_approvers: dict[str, str] = {}
    slack_channel: str | None = None
    slack_ts: str | None = None
    details_link: str | None = None  # the read-only link posted with it
    # The service's other environments that run this very image already (a promotion).
    running_elsewhere: list[RunningElsewhere] = []

    def already_running(self, now: datetime) -> str | None:
        """Where the image runs already, in words; None when nowhere else."""
        return "; ".join(r.words(now) for r in self.running_elsewhere) or None

    def slack_approver(self, user_id: str) -> str:
        """How the audit names the Slack user who clicked; ApproverNotAllowed if not listed."""
        listed = self.slack_approvers.get(user_id)
        if listed is None:
            raise ApproverNotAllowed(f"Slack user {user_id} is not an approver of {self.service}")
        return f"{listed} (Slack {user_id})" if listed != user_id else f"Slack user {user_id}"


class LinkParams(BaseModel):
    """The query string of an approval link."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    r: str  # the recipient, base64url
    exp: int  # expiry, epoch seconds
    sig: str
    view: int = 0  # 1: a link that only shows the request (the one posted to Slack)

    @property
    def recipient(self) -> str:
        padded = self.r + "=" * (-len(self.r) % 4)
        try:
            return base64.urlsafe_b64decode(padded.encode()).decode()
        except (ValueError, UnicodeDecodeError) as e:
            raise ApprovalLinkInvalid("malformed recipient") from e


def new_approval_id() -> str:
    return secrets.token_urlsafe(18)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def record_for(
    state: DeploymentState,
    approval_id: str,
    task_token: str,
    now: datetime,
    running_elsewhere: list[RunningElsewhere] | None = None,
) -> ApprovalRecord:
    if state.render is None:
        raise ValueError("approval requested before the task definition was rendered")
    provenance = state.provenance
    revision = provenance.revision if provenance else None
    commit_url = state.service.commit_url
    return ApprovalRecord(
        approval_id=approval_id,
        execution_name=state.execution_name,
        task_token=task_token,
        service=state.service.name,
        environment=state.service.environment,
        cluster=state.service.cluster,
        ecs_service=state.service.service,
        image_tag=state.image.tag,
        new_image=state.image.pinned,
        previous_image=state.render.previous_image,
        previous_task_definition=state.render.previous_task_definition,
        task_definition=state.render.task_definition,
        changes=state.render.changes,
        recipients=list(state.service.approvers),
        method=state.service.method,
        created_at=now,
        expires_at=now + timedelta(seconds=state.service.timings.approval_timeout_seconds),
        pushed_by=state.pushed_by or _requested_by(state),
        previous_tag=state.render.previous_tag,
        revision=revision,
        source=provenance.source if provenance else None,
        created=provenance.created if provenance else None,
        commit_url=commit_url.replace("{revision}", quote(revision, safe=""))
        if commit_url and revision
        else None,
        running_elsewhere=running_elsewhere or [],
    )


def _requested_by(state: DeploymentState) -> str:
    """Who asked for the deployment, when the push event named nobody."""
    if state.source == "promotion":
        return f"promotion from {state.promoted_from or 'the environment before'}"
    return "ECR push" if state.source == "ecr-push" else "bluegreen CLI"


def _signature(
    secret: bytes, approval_id: str, recipient: str, expires: int, view: bool = False
) -> str:
    # A view-only link signs one more field: it cannot be turned into a deciding one.
    message = f"{approval_id}|{recipient}|{expires}{'|view' if view else ''}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link(
    base_url: str, secret: bytes, record: ApprovalRecord, recipient: str, view: bool = False
) -> str:
    """The link for one recipient: it names the approval, never the task token.

    ``view``: a link that only shows the request (posted to Slack, where anyone in the
    channel sees it); deciding there is the buttons' job.
    """
    expires = int(record.expires_at.timestamp())
    query = {
        "r": base64.urlsafe_b64encode(recipient.encode()).rstrip(b"=").decode(),
        "exp": expires,
        **({"view": 1} if view else {}),
        "sig": _signature(secret, record.approval_id, recipient, expires, view),
    }
    return f"{base_url.rstrip('/')}/approvals/{record.approval_id}?{urlencode(query)}"


def verify(secret: bytes, approval_id: str, params: LinkParams, now: datetime) -> str:
    """The recipient a valid, unexpired link was made for; otherwise a named refusal."""
    expected = _signature(secret, approval_id, params.recipient, params.exp, params.view == 1)
    # Compared as bytes: compare_digest refuses non-ASCII str, and a link is user input.
    if not hmac.compare_digest(expected.encode(), params.sig.encode()):
        raise ApprovalLinkInvalid("the link's signature does not match")
    if now >= datetime.fromtimestamp(params.exp, UTC):
        raise ApprovalExpired("the link has expired")
    return params.recipient


def check_open(record: ApprovalRecord, now: datetime) -> None:
    if record.status == "pending" and now >= record.expires_at:
        raise ApprovalExpired("the approval request has expired")


def callback_output(
    record: ApprovalRecord, approver: str, now: datetime, reason: str | None
) -> dict[str, str]:
    """SendTaskSuccess output: becomes ``$.approval`` (models.ApprovalDecision)."""
    output = {
        "decision": "approved",
        "approver": approver,
        "decided_at": now.isoformat(),
        "approval_id": record.approval_id,
    }
    return output | ({"reason": reason} if reason else {})


def rejection_cause(approver: str, reason: str | None) -> str:
    """SendTaskFailure's cause: the execution's failure says who rejected it, and why."""
    return f"rejected by {approver}" + (f": {reason}" if reason else "")


def clean_reason(text: str | None) -> str | None:
    """A decision's reason as kept: one line of plain text, bounded; None when empty."""
    if not text:
        return None
    cleaned = " ".join(text.split())[:REASON_MAX_CHARS]
    return cleaned or None


def in_words(delta: timedelta) -> str:
    """``in 23 hours``, ``in 5 minutes``, ``2 hours ago``: a duration as people say it."""
    amount = _amount(delta)
    return f"in {amount}" if int(delta.total_seconds()) >= 0 else f"{amount} ago"


def lasting(delta: timedelta) -> str:
    """``for 12 minutes``: how long something has been so."""
    return f"for {_amount(delta)}"


def _amount(delta: timedelta) -> str:
    seconds = abs(int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size * (2 if unit == "day" else 1):
            count = round(seconds / size) if unit != "minute" else seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"
