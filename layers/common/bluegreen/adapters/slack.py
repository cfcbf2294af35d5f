"""Slack as an app: the Web API through slack-sdk's WebClient, and its request signatures.

slack-sdk is imported when a Slack client is built, never at a handler's import: a function
that does not talk to Slack in this invocation does not pay for it (~75 ms).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen.errors import SlackFailed, SlackRequestInvalid

if TYPE_CHECKING:
    from slack_sdk import WebClient

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class Posted:
    channel: str  # the channel's id, whatever name it was posted to
    ts: str


class SlackApp:
    """The calls the app makes, each answered by Slack's ``ok`` or raising SlackFailed."""

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, timeout: int = 5) -> None:
        from slack_sdk import WebClient

        # Slack's rate limits are per method; one retry of a 429 fits the functions' timeouts.
        from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

        self._client: WebClient = WebClient(
            token=token,
            base_url=api_url if api_url.endswith("/") else api_url + "/",
            timeout=timeout,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
        )

    def _call(self, method: str, **arguments: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            response = self._client.api_call(method, json=arguments)
        except SlackApiError as e:
            raise SlackFailed(f"{method}: {e.response.get('error', 'error')}") from e
        except (SlackClientError, OSError) as e:
            raise SlackFailed(f"{method}: {type(e).__name__}") from e
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post(
        self, channel: str, message: Mapping[str, Any], thread_ts: str | None = None
    ) -> Posted:
        thread = {"thread_ts": thread_ts} if thread_ts else {}
        answer = self._call(
            "chat.postMessage", channel=channel, unfurl_links=False, **message, **thread
        )
        return Posted(channel=str(answer["channel"]), ts=str(answer["ts"]))

    def update(self, channel: str, ts: str, message: Mapping[str, Any]) -> None:
        self._call("chat.update", channel=channel, ts=ts, **message)

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call("chat.postEphemeral", channel=channel, user=user, text=text)

    def open_view(self, trigger_id: str, view: Mapping[str, Any]) -> None:
        self._call("views.open", trigger_id=trigger_id, view=dict(view))

    def user_id_by_email(self, email: str) -> str | None:
        """The workspace user with this email; None when Slack knows none."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            # users.lookupByEmail takes query arguments, not JSON (as the SDK's own method).
            answer = self._client.api_call(
                "users.lookupByEmail", http_verb="GET", params={"email": email}
            )
        except SlackApiError as e:
            if e.response.get("error") == "users_not_found":
                return None
            raise SlackFailed(f"users.lookupByEmail: {e.response.get('error')}") from e
        except (SlackClientError, OSError) as e:
            raise SlackFailed(f"users.lookupByEmail: {type(e).__name__}") from e
        user = answer.get("user") or {}
        return str(user["id"]) if user.get("id") else None


def verify_request(
    signing_secret: str, body: str, headers: Mapping[str, str], now: float | None = None
) -> None:
    """Refuse a request Slack did not sign with our signing secret in the last five minutes.

    slack-sdk's verifier: the ``v0`` HMAC of ``v0:<timestamp>:<body>``, compared in constant
    time, and a timestamp at most five minutes away from now (a replay window).
    """
    from slack_sdk.signature import Clock, SignatureVerifier

    class _At(Clock):
        def now(self) -> float:
            return now if now is not None else super().now()

    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp", "")
    signature = lowered.get("x-slack-signature", "")
    verifier = SignatureVerifier(signing_secret, clock=_At())
    if not timestamp or not signature or not verifier.is_valid(body, timestamp, signature):
        raise SlackRequestInvalid("the request is not signed by Slack, or not recently")
