"""Every email and Slack message the app sends, kept in order instead of delivered.

Emails are read from moto's SES backend (``SendEmail``/``SendRawEmail``, v1 and v2 alike),
each with its ``text`` and ``html`` parts, and from SNS topics with email subscriptions;
Slack messages are the calls the local Slack workspace answered (``slack.py``). Each entry
lists every URL in it, so a test or a developer can follow an approval link the way a
recipient would.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

from bluegreen_cli.local.intrinsics import ACCOUNT_ID, REGION

_URL = re.compile(r"https?://[^\s<>\"'|`\\]+")


def links_in(value: Any) -> list[str]:
    """Every URL in a text, HTML or JSON document (Block Kit button ``url``s included)."""
    found: list[str] = []
    _collect(value, found)
    unique: list[str] = []
    for link in found:
        link = link.rstrip(".,;:!?)]}")
        if link not in unique:
            unique.append(link)
    return unique


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        found.extend(_URL.findall(html.unescape(value)))
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Outbox:
    """The outgoing messages, oldest first."""

    def __init__(self, account_id: str = ACCOUNT_ID, region: str = REGION) -> None:
        self.account_id = account_id
        self.region = region
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ses_seen = 0
        self._sns_seen: dict[str, int] = {}

    def entries(self) -> list[dict[str, Any]]:
        self.sync()
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    # Slack

    def add_slack(self, call: dict[str, Any]) -> dict[str, Any]:
        """Record a message call the local Slack answered (``method``, ``to``, ``text``,
        ``blocks``...)."""
        entry = {
            "channel": "slack",
            **call,
            "links": links_in({"text": call.get("text"), "blocks": call.get("blocks")}),
            "sent_at": _now(),
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    # email, picked up from moto's backends

    def sync(self) -> None:
        """Take in the emails sent since the last call (stamped with the time seen)."""
        with self._lock:
            self._sync_ses()
            self._sync_sns()

    def _sync_ses(self) -> None:
        from moto.ses.models import ses_backends

        if self.account_id not in ses_backends or self.region not in ses_backends[self.account_id]:
            return
        sent = list(ses_backends[self.account_id][self.region].sent_messages)
        for message in sent[self._ses_seen :]:
            self._entries.extend(_ses_entries(message))
        self._ses_seen = len(sent)

    def _sync_sns(self) -> None:
        from moto.sns.models import sns_backends

        if self.account_id not in sns_backends or self.region not in sns_backends[self.account_id]:
            return
        backend = sns_backends[self.account_id][self.region]
        for arn, topic in list(backend.topics.items()):
            sent = list(topic.sent_notifications)
            seen = self._sns_seen.get(arn, 0)
            if len(sent) <= seen:
                continue
            subscribers = [
                s.endpoint
                for s in list(backend.subscriptions.values())
                if s.topic is topic and s.protocol in ("email", "email-json")
            ]
            for message_id, message, subject, _attributes, _group in sent[seen:]:
                for address in subscribers:
                    self._entries.append(
                        {
                            "channel": "email",
                            "to": address,
                            "from": f"SNS topic {topic.name}",
                            "subject": subject or "",
                            "text": message,
                            "html": None,
                            "body": message,
                            "links": links_in(message),
                            "sent_at": _now(),
                            "message_id": message_id,
                            "via": "sns",
                            "topic_arn": arn,
                        }
                    )
            self._sns_seen[arn] = len(sent)


def _ses_entries(message: Any) -> list[dict[str, Any]]:
    """One entry per recipient, as each recipient receives a copy."""
    sent_at = _now()
    html_part: str | None = None
    headers: dict[str, str] = {}
    if hasattr(message, "raw_data"):
        parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
        text_part = parsed.get_body(preferencelist=("plain",))
        found_html = parsed.get_body(preferencelist=("html",))
        body = text_part.get_content() if text_part is not None else ""
        html_part = found_html.get_content() if found_html is not None else None
        # moto lists the Destinations and the To/Cc headers both: each recipient once.
        recipients = list(dict.fromkeys(message.destinations or []))
        subject = str(parsed.get("Subject", ""))
        destination = {"to": recipients}
        headers = {k: str(v) for k, v in parsed.items() if not k.lower().startswith("content-")}
    elif hasattr(message, "template"):
        data = message.template_data
        body = data if isinstance(data, str) else json.dumps(data)
        destination = _destination(message.destinations)
        recipients = [a for addresses in destination.values() for a in addresses]
        subject = f"(template {message.template})"
    else:
        body = str(message.body or "")
        destination = _destination(message.destinations)
        recipients = [a for addresses in destination.values() for a in addresses]
        subject = str(message.subject or "")
    message_id = getattr(message, "id", None) or ",".join(getattr(message, "ids", []))
    return [
        {
            "channel": "email",
            "to": recipient,
            "from": message.source,
            "subject": subject,
            "text": body,
            "html": html_part,
            "body": body,
            "links": links_in(body) or links_in(html_part or ""),
            "headers": headers,
            "sent_at": sent_at,
            "message_id": message_id,
            "destination": destination,
            "via": "ses",
        }
        for recipient in recipients
    ]


def _destination(destinations: Any) -> dict[str, list[str]]:
    if isinstance(destinations, list):
        # bulk templated mail: [{"Destination": {...}}, ...]
        merged: dict[str, list[str]] = {}
        for item in destinations:
            for key, addresses in _destination(item.get("Destination", item)).items():
                merged.setdefault(key, []).extend(addresses)
        return merged
    if not isinstance(destinations, dict):
        return {}
    names = {"ToAddresses": "to", "CcAddresses": "cc", "BccAddresses": "bcc"}
    return {
        names[key]: [str(a) for a in destinations.get(key) or []]
        for key in names
        if destinations.get(key)
    }
