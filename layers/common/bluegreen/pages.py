"""HTML pages of the approval API (autoescaped Jinja templates shipped in the layer)."""

from __future__ import annotations

from datetime import datetime

from bluegreen.domain.approval import ApprovalRecord, in_words
from bluegreen.rendering import render
from bluegreen.steps.approval import Review

# The link carries a signature: keep it out of Referer headers, caches and frames.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def _at(moment: datetime | None) -> str:
    return f" at {moment:%Y-%m-%d %H:%M:%S} UTC" if moment else ""


def headline(r: ApprovalRecord) -> tuple[str, str | None]:
    """The page's heading and status line: a question while it is open, else what happened."""
    what = f"{r.service} {r.image_tag} ({r.environment})"
    reason = f" Reason: {r.reason}" if r.reason else ""
    if r.status == "approved":
        return f"Approved: {what}", f"Approved by {r.decided_by}{_at(r.decided_at)}.{reason}"
    if r.status == "rejected":
        return (
            f"Rejected: {what} is not deployed",
            f"Rejected by {r.decided_by}{_at(r.decided_at)}.{reason}",
        )
    if r.status == "superseded":
        return (
            f"Superseded: {what}",
            f"A newer image replaced this one: superseded by {r.decided_by}. "
            "This request accepts no decision.",
        )
    if r.status == "expired":
        return f"Expired: {what}", "Nobody decided before the request expired; nothing changed."
    return f"Deploy {r.image_tag} to {r.service} ({r.environment})?", None


def review_page(review: Review, action: str, now: datetime) -> str:
    heading, status_line = headline(review.record)
    return render(
        "review.html",
        r=review.record,
        heading=heading,
        status_line=status_line,
        recipient=review.recipient,
        nonce=review.nonce,
        view_only=review.view_only,
        action=action,
        now=now,
        expires_in=in_words(review.record.expires_at - now),
    )


def message_page(
    heading: str,
    text: str,
    follow: str | None = None,
    execution: str | None = None,
    decision: str | None = None,
) -> str:
    """A page with one message; ``decision``: the answer to a decision, marked as such for
    the operators' CLI (a decided request's review page says the same words, unmarked)."""
    return render(
        "message.html",
        heading=heading,
        text=text,
        follow=follow,
        execution=execution,
        decision=decision,
    )
