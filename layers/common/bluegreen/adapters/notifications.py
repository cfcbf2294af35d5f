"""Outgoing messages: email through SES, SNS for the rest (Slack: :mod:`.slack`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bluegreen.adapters.aws import THROTTLING, error_code, translated
from bluegreen.domain.messages import Email
from bluegreen.errors import MailRefused

log = logging.getLogger(__name__)

# Why SES refused one message, in words for the people who read the outcome. AWS's own
# message (which may quote addresses and account details) goes to the log only.
_REFUSALS = {
    "MessageRejected": "SES rejected the message (in the SES sandbox, only verified "
    "addresses receive mail)",
    "MailFromDomainNotVerifiedException": "the sender's MAIL FROM domain is not verified in SES",
    "AccountSendingPausedException": "sending email is paused for this AWS account",
    "ConfigurationSetSendingPausedException": "sending is paused for the configuration set",
    "ConfigurationSetDoesNotExistException": "the SES configuration set does not exist",
    "AccessDenied": "this function may not send this message (AccessDenied)",
    "AccessDeniedException": "this function may not send this message (AccessDenied)",
}

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sns import SNSClient


class SesMailer:
    def __init__(self, client: SESClient, sender: str) -> None:
        self._ses = client
        self._sender = sender

    def send(self, email: Email) -> str:
        """Send one message; ``MailRefused`` when SES answers that it will not."""
        with translated():
            try:
                if email.html is None:
                    sent = self._ses.send_email(
                        Source=self._sender,
                        Destination={"ToAddresses": email.to},
                        Message={
                            "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                            "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}},
                        },
                    )
                else:
                    sent = self._ses.send_raw_email(
                        Source=self._sender,
                        Destinations=email.to,
                        RawMessage={"Data": mime(email, self._sender).as_bytes()},
                    )
            except ClientError as e:
                code = error_code(e)
                if code in THROTTLING:
                    raise
                log.warning(
                    "SES refused mail to %s: %s: %s",
                    ", ".join(email.to),
                    code,
                    e.response.get("Error", {}).get("Message", ""),
                )
                raise MailRefused(_REFUSALS.get(code, f"SES refused the message ({code})")) from e
        return str(sent["MessageId"])


def mime(email: Email, sender: str) -> EmailMessage:
    """A text and an HTML part, with the headers of a message to one person.

    ``Auto-Submitted: auto-generated`` (RFC 3834) and ``X-Auto-Response-Suppress`` keep
    auto-replies away; no ``Precedence: bulk`` or list headers, which make mail clients file
    it with newsletters; a unique Message-ID, so that two requests are never folded into one.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(email.to)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(_utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(email.text, subtype="plain", charset="utf-8")
    message.add_alternative(email.html or "", subtype="html", charset="utf-8")
    return message


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Topic:
    def __init__(self, client: SNSClient, arn: str) -> None:
        self._sns = client
        self._arn = arn

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None:
        with translated():
            self._sns.publish(
                TopicArn=self._arn,
                Subject=subject[:100],
                Message=message,
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                },
            )
