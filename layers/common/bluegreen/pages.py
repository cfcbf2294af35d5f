"""HTML pages of the approval API (autoescaped Jinja templates shipped in the layer)."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from bluegreen.steps.approval import Review

_env = Environment(
    loader=PackageLoader("bluegreen", "templates"),
    autoescape=select_autoescape(default=True),
)

# The link carries a signature: keep it out of Referer headers, caches and frames.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def review_page(review: Review, action: str) -> str:
    return _env.get_template("review.html").render(
        r=review.record, recipient=review.recipient, nonce=review.nonce, action=action
    )


def message_page(heading: str, text: str) -> str:
    return _env.get_template("message.html").render(heading=heading, text=text)
