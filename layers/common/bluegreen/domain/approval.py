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
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict

from bluegreen.changes import FieldChange
from bluegreen.errors import ApprovalExpired, ApprovalLinkInvalid

if TYPE_CHECKING:  # the approval API reads records only: it never builds the state's models
    from bluegreen.models import DeploymentState

Decision = Literal["approve", "reject"]
Status = Literal["pending", "approved", "rejected", "expired", "superseded"]

NONCE_TTL = timedelta(minutes=30)


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


class LinkParams(BaseModel):
    """The query string of an approval link."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    r: str  # the recipient, base64url
    exp: int  # expiry, epoch seconds
    sig: str

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
    state: DeploymentState, approval_id: str, task_token: str, now: datetime
) -> ApprovalRecord:
    if state.render is None:
        raise ValueError("approval requested before the task definition was rendered")
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
        recipients=[*state.service.approvers, "slack"],
        created_at=now,
        expires_at=now + timedelta(seconds=state.service.timings.approval_timeout_seconds),
    )


def _signature(secret: bytes, approval_id: str, recipient: str, expires: int) -> str:
    message = f"{approval_id}|{recipient}|{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link(base_url: str, secret: bytes, record: ApprovalRecord, recipient: str) -> str:
    """The link for one recipient: it names the approval, never the task token."""
    expires = int(record.expires_at.timestamp())
    query = urlencode(
        {
            "r": base64.urlsafe_b64encode(recipient.encode()).rstrip(b"=").decode(),
            "exp": expires,
            "sig": _signature(secret, record.approval_id, recipient, expires),
        }
    )
    return f"{base_url.rstrip('/')}/approvals/{record.approval_id}?{query}"


def verify(secret: bytes, approval_id: str, params: LinkParams, now: datetime) -> str:
    """The recipient a valid, unexpired link was made for; otherwise a named refusal."""
    expected = _signature(secret, approval_id, params.recipient, params.exp)
    # Compared as bytes: compare_digest refuses non-ASCII str, and a link is user input.
    if not hmac.compare_digest(expected.encode(), params.sig.encode()):
        raise ApprovalLinkInvalid("the link's signature does not match")
    if now >= datetime.fromtimestamp(params.exp, UTC):
        raise ApprovalExpired("the link has expired")
    return params.recipient


def check_open(record: ApprovalRecord, now: datetime) -> None:
    if record.status == "pending" and now >= record.expires_at:
        raise ApprovalExpired("the approval request has expired")


def callback_output(approver: str, now: datetime) -> dict[str, str]:
    """SendTaskSuccess output: becomes ``$.approval`` (models.ApprovalDecision)."""
    return {"decision": "approved", "approver": approver, "decided_at": now.isoformat()}
