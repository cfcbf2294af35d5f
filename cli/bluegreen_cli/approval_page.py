"""Drive an approval link like a browser: GET the page, then POST its one-time form."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal


@dataclass(frozen=True)
class PageResult:
    status: int
    body: str
    # True for the answer to a submitted form; False for a page that offered none (a
    # decided, expired or superseded request shows no form).
    submitted: bool = False


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and values.get("method", "").lower() == "post":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden" and self.action is not None:
            self.fields[values.get("name", "")] = values.get("value", "")


def _request(url: str, data: bytes | None = None) -> PageResult:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) link: {url}")
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if data else {}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - checked
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return PageResult(int(response.status), response.read().decode())
    except urllib.error.HTTPError as e:
        return PageResult(e.code, e.read().decode())


def open_page(link: str) -> PageResult:
    return _request(link)


def decide(link: str, decision: Literal["approve", "reject"]) -> PageResult:
    """Open the page (which changes nothing) and submit its form with ``decision``."""
    page = open_page(link)
    form = _Form()
    form.feed(page.body)
    if page.status != 200 or form.action is None:
        return page
    fields = {**form.fields, "decision": decision}
    target = urllib.parse.urljoin(link, form.action)
    answer = _request(target, urllib.parse.urlencode(fields).encode())
    return PageResult(answer.status, answer.body, submitted=True)
