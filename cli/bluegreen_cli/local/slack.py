"""A Slack workspace for the local stack: the Web API methods the app calls, answered as
Slack answers them, each message kept in the outbox.

Slack's Web API answers HTTP 200 with ``{"ok": true, ...}``, or ``{"ok": false, "error":
"<code>"}`` (``not_authed``, ``invalid_auth``, ``channel_not_found``, ``message_not_found``,
``users_not_found``, ``user_not_found``, ``no_text``, ``invalid_arguments``,
``unknown_method``). Arguments come as JSON (``Authorization: Bearer <token>``), as a form,
or in the query string, as Slack takes them.

The workspace: the channel ``#deploys`` (``C0DEPLOYS``), the sample's approver
``U0APPROVER`` (approver@example.com), and ``U0BYSTANDER`` (bystander@example.com), a member
who may not approve. Its app's signing secret is made per stack; interactions (clicks) are
sent by whoever plays Slack, signed with it (see :func:`signed_headers`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

Recorder = Callable[[dict[str, Any]], None]

CHANNELS = {"C0DEPLOYS": "deploys"}
USERS = {
    "U0APPROVER": ("approver", "approver@example.com"),
    "U0BYSTANDER": ("bystander", "bystander@example.com"),
}
BOT_USER = "U0BLUEGREEN"
# Where Slack messages of chat.postMessage/update/postEphemeral and views.open go.
_RECORDED = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open")


class SlackError(Exception):
    """An ``ok: false`` answer; the message is Slack's error code."""


def signed_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with a request: ``v0=`` HMAC-SHA256 of ``v0:<ts>:<body>``."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }


@dataclass
class SlackWorkspace:
    """The workspace's state: the bot token it accepts and the messages posted."""

    record: Recorder
    token: str = field(default_factory=lambda: "xoxb-local-" + secrets.token_hex(12))
    signing_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def handle(self, request: Request, method: str) -> Response:
        """One Web API call: ``POST|GET /api/<method>``, answered as Slack does."""
        arguments = _arguments(request)
        try:
            self._authorize(request, arguments)
            handler = self._methods().get(method)
            if handler is None:
                raise SlackError("unknown_method")
            with self._lock:
                answer = handler(arguments)
        except SlackError as e:
            return _answer({"ok": False, "error": str(e)})
        if method in _RECORDED:
            self.record(_entry(method, arguments, answer))
        return _answer({"ok": True, **answer})

    def _authorize(self, request: Request, arguments: dict[str, Any]) -> None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header else arguments.get("token")
        if not token:
            raise SlackError("not_authed")
        if not hmac.compare_digest(str(token).encode(), self.token.encode()):
            raise SlackError("invalid_auth")

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": lambda _: {"user_id": BOT_USER, "team": "local", "bot_id": "B0LOCAL"},
            "chat.postMessage": self._post,
            "chat.update": self._update,
            "chat.postEphemeral": self._ephemeral,
            "views.open": self._open_view,
            "users.lookupByEmail": self._lookup,
        }

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._sequence):06d}"

    def _post(self, arguments: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(arguments.get("channel"))
        _has_content(arguments)
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER,
            "ts": ts,
            "text": str(arguments.get("text") or ""),
            **({"blocks": arguments["blocks"]} if arguments.get("blocks") else {}),
            **({"thread_ts": str(arguments["thread_ts"])} if arguments.get("thread_ts") else {}),
        }
        self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _update(self, arguments: dict[str, Any]) -> dict[str, Any]:
        channel = str(arguments.get("channel") or "")
        if channel not in CHANNELS:  # chat.update takes a channel id, never a name
            raise SlackError("channel_not_found")
        ts = str(arguments.get("ts") or "")
        if (channel, ts) not in self.messages:
            raise SlackError("message_not_found")
        _has_content(arguments)
        message = self.messages[(channel, ts)]
        message.update({"text": str(arguments.get("text") or "")})
        if "blocks" in arguments:
            message["blocks"] = arguments["blocks"]
        return {"channel": channel, "ts": ts, "text": message["text"], "message": message}

    def _ephemeral(self, arguments: dict[str, Any]) -> dict[str, Any]:
        _channel(arguments.get("channel"))
        if str(arguments.get("user") or "") not in USERS:
            raise SlackError("user_not_found")
        _has_content(arguments)
        return {"message_ts": self._next_ts()}

    def _open_view(self, arguments: dict[str, Any]) -> dict[str, Any]:
        view = arguments.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not arguments.get("trigger_id") or not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        view_id = f"V{next(self._sequence):08d}"
        return {"view": {**view, "id": view_id, "state": {"values": {}}}}

    def _lookup(self, arguments: dict[str, Any]) -> dict[str, Any]:
        email = str(arguments.get("email") or "").lower()
        for user_id, (name, address) in USERS.items():
            if address == email:
                return {"user": {"id": user_id, "name": name, "profile": {"email": address}}}
        raise SlackError("users_not_found")


def _channel(value: Any) -> str:
    """A channel id, from an id or a name (``#deploys`` or ``deploys``)."""
    name = str(value or "")
    if name in CHANNELS:
        return name
    for channel_id, channel_name in CHANNELS.items():
        if name.lstrip("#") == channel_name:
            return channel_id
    raise SlackError("channel_not_found")


def _has_content(arguments: dict[str, Any]) -> None:
    if not arguments.get("text") and not arguments.get("blocks"):
        raise SlackError("no_text")


def _arguments(request: Request) -> dict[str, Any]:
    found: dict[str, Any] = dict(request.args.items())
    if request.mimetype == "application/json":
        document = request.get_json(silent=True)
        if isinstance(document, dict):
            found.update(document)
    else:
        found.update(request.form.items())
    for key in ("blocks", "view"):  # form arguments carry JSON as text
        if isinstance(found.get(key), str):
            try:
                found[key] = json.loads(found[key])
            except ValueError:
                raise SlackError("invalid_blocks") from None
    return found


def _answer(document: dict[str, Any]) -> Response:
    return Response(json.dumps(document), status=200, content_type="application/json")


def _entry(method: str, arguments: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The outbox entry of one message call."""
    if method == "views.open":
        view = answer.get("view", {})
        return {
            "method": method,
            "to": str(arguments.get("trigger_id")),
            "text": str(view.get("title", {}).get("text", "")),
            "blocks": view.get("blocks", []),
            "view": view,
        }
    entry: dict[str, Any] = {
        "method": method,
        "to": str(answer.get("channel") or arguments.get("channel") or ""),
        "text": str(arguments.get("text") or ""),
        "blocks": arguments.get("blocks") or [],
        "ts": str(answer.get("ts") or answer.get("message_ts") or ""),
    }
    if arguments.get("thread_ts"):
        entry["thread_ts"] = str(arguments["thread_ts"])
    if method == "chat.postEphemeral":  # seen by one user only, in that channel
        entry["to"], entry["in_channel"] = str(arguments.get("user")), entry["to"]
    return entry
