"""Outgoing messages: email through SES, Slack through an incoming webhook, SNS for the rest."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

from bluegreen.adapters.aws import translated
from bluegreen.domain.messages import Email

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sns import SNSClient


class SesMailer:
    def __init__(self, client: SESClient, sender: str) -> None:
        self._ses = client
        self._sender = sender

    def send(self, email: Email) -> str:
        with translated():
            sent = self._ses.send_email(
                Source=self._sender,
                Destination={"ToAddresses": email.to},
                Message={
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}},
                },
            )
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
