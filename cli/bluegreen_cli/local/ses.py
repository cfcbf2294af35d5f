"""The SES sandbox, which moto does not enforce: mail only to verified identities.

The local account is in the SES sandbox (``GetSendQuota`` reports the sandbox's 200
messages a day at 1 a second). On AWS a sandboxed account may send only to verified email
addresses, or to addresses of verified domains, and to the mailbox simulator; mail to any
other recipient is refused whole with ``MessageRejected``: "Email address is not verified.
The following identities failed the check in region US-EAST-1: <addresses>". moto checks
only the sender and delivers to anyone.

:func:`sandbox_refusal` looks at an SES request before moto does and answers that refusal,
in the protocol of the API called: SES v1 (``SendEmail``, ``SendRawEmail``,
``SendTemplatedEmail``; query protocol, XML errors) and SES v2 (``SendEmail``; REST-JSON).
"""

from __future__ import annotations

import base64
import binascii
import email
import json
import uuid
from email.utils import getaddresses, parseaddr
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.ses.models import ses_backends
from werkzeug.wrappers import Response

# Addresses at the mailbox simulator may be sent to from the sandbox.
_SIMULATOR_DOMAIN = "simulator.amazonses.com"
_V1_SENDS = ("SendEmail", "SendRawEmail", "SendTemplatedEmail")
_V2_SEND_PATH = "/v2/email/outbound-emails"
_V1_KINDS = ("ToAddresses", "CcAddresses", "BccAddresses")


def sandbox_refusal(
    path: str, content_type: str, body: bytes, account_id: str, region: str
) -> Response | None:
    """SES's answer to a send that the sandbox refuses; ``None`` to let it through."""
    if path.rstrip("/") == _V2_SEND_PATH:
        addresses = _v2_addresses(body)
        refused = _unverified(addresses, account_id, region)
        return _v2_rejection(refused, region) if refused else None
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    params = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if params.get("Action") not in _V1_SENDS:
        return None
    refused = _unverified(_v1_addresses(params), account_id, region)
    return _v1_rejection(refused, region) if refused else None


def _unverified(addresses: list[str], account_id: str, region: str) -> list[str]:
    identities = {i.lower() for i in ses_backends[account_id][region].email_identities}
    refused: list[str] = []
    for address in addresses:
        domain = address.rsplit("@", 1)[-1].lower()
        verified = (
            address.lower() in identities or domain in identities or domain == _SIMULATOR_DOMAIN
        )
        if not verified and address not in refused:
            refused.append(address)
    return refused


def _v1_addresses(params: dict[str, str]) -> list[str]:
    """The sender and every recipient of an SES v1 send."""
    raw = _raw_message(params.get("RawMessage.Data")) if "RawMessage.Data" in params else None
    sender = params.get("Source") or (raw.get("From") if raw is not None else None)
    recipients = [value for key, value in params.items() if _names_a_recipient(key)]
    if raw is not None:
        recipients += _header_addresses(raw)
    return _bare([sender, *recipients] if sender else recipients)


def _names_a_recipient(key: str) -> bool:
    """``Destination.ToAddresses.member.1`` (SendEmail) or ``Destinations.member.1`` (raw)."""
    parts = key.split(".")
    if parts[0] == "Destination":
        return len(parts) == 4 and parts[1] in _V1_KINDS and parts[2] == "member"
    return parts[0] == "Destinations" and len(parts) == 3 and parts[1] == "member"


def _v2_addresses(body: bytes) -> list[str]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    destination = document.get("Destination") or {}
    recipients = [a for kind in _V1_KINDS for a in destination.get(kind) or []]
    raw_data = ((document.get("Content") or {}).get("Raw") or {}).get("Data")
    raw = _raw_message(raw_data) if raw_data else None
    sender = document.get("FromEmailAddress") or (raw.get("From") if raw is not None else None)
    if raw is not None:
        recipients += _header_addresses(raw)
    return _bare([sender, *recipients] if sender else recipients)


def _raw_message(data: Any) -> email.message.Message | None:
    try:
        return email.message_from_bytes(base64.b64decode(str(data), validate=True))
    except (binascii.Error, ValueError):
        return None


def _header_addresses(message: email.message.Message) -> list[str]:
    fields = [str(message[h]) for h in ("To", "Cc", "Bcc") if message[h] is not None]
    return [address for _, address in getaddresses(fields) if address]


def _bare(addresses: list[Any]) -> list[str]:
    """``Name <a@example.com>`` -> ``a@example.com``."""
    return [parseaddr(str(a))[1] or str(a) for a in addresses if a]


def _message(refused: list[str], region: str) -> str:
    return (
        "Email address is not verified. The following identities failed the check in region "
        f"{region.upper()}: {', '.join(refused)}"
    )


def _v1_rejection(refused: list[str], region: str) -> Response:
    document = (
        '<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">'
        "<Error><Type>Sender</Type><Code>MessageRejected</Code>"
        f"<Message>{escape(_message(refused, region))}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(document, status=400, content_type="text/xml")


def _v2_rejection(refused: list[str], region: str) -> Response:
    return Response(
        json.dumps({"message": _message(refused, region)}),
        status=400,
        content_type="application/json",
        headers={"x-amzn-ErrorType": "MessageRejected"},
    )
