"""Outgoing messages: email through SES, Slack through an incoming webhook, SNS for the rest."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import TYPE_CHECKING, Any

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
                sent = self._ses.send_email(
                    Source=self._sender,
                    Destination={"ToAddresses": email.to},
                    Message={
                        "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}},
                    },
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


class SlackWebhook:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._url = url
        self._timeout = timeout

    def post(self, payload: dict[str, Any]) -> None:
        if not self._url.startswith(("https://", "http://")):
            raise ValueError("the Slack webhook URL must be http(s)")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            self._url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
            response.read()


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
