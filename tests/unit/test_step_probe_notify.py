"""The probe step against a real HTTP server, and the outcome notification on moto."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.adapters.http_probe import check
from bluegreen.adapters.notifications import Topic
from bluegreen.adapters.store import StateTable
from bluegreen.domain.messages import Email
from bluegreen.errors import TestTrafficUnhealthy
from bluegreen.models import (
    ApprovalDecision,
    DeploymentState,
    ScalingSnapshot,
    StepError,
    Timings,
)
from bluegreen.steps.notify import notify
from bluegreen.steps.probe import probe

from tests.unit.builders import (
    NOW,
    Aws,
    create_state_table,
    demo_service,
    http_server,
    rendered,
    state,
)


def probing(url: str, required: int = 3, attempts: int = 10) -> DeploymentState:
    timings = Timings(
        probe_required_passes=required,
        probe_max_attempts=attempts,
        probe_request_timeout_seconds=2,
    )
    return rendered(state(service=demo_service(test_url=url, timings=timings)))


def test_the_green_version_is_verified_after_consecutive_passes() -> None:
    with http_server(lambda _request: (200, b"ok")) as server:
        current = probing(f"{server.url}/health")
        for second in range(3):
            current = probe(current, check, NOW + timedelta(seconds=second))

    assert len(server.requests) == 3
    assert current.probe is not None
    assert current.probe.healthy
    assert current.probe.started_at == NOW
    assert current.probe.finished_at == NOW + timedelta(seconds=2)
    assert current.probe.last_status == 200


def test_a_failing_green_version_is_reported_as_soon_as_it_cannot_pass() -> None:
    with http_server(lambda _request: (503, b"starting")) as server:
        current = probing(f"{server.url}/health", required=2, attempts=3)
        current = probe(current, check, NOW)
        assert current.probe is not None
        assert not current.probe.healthy

        with pytest.raises(TestTrafficUnhealthy, match="503"):
            probe(current, check, NOW + timedelta(seconds=1))

    assert len(server.requests) == 2  # the third attempt could not have helped


# --- notify -------------------------------------------------------------------------------


@dataclass
class Chat:
    posted: list[dict[str, Any]] = field(default_factory=list)

    def post(self, payload: dict[str, Any]) -> None:
        self.posted.append(payload)


@pytest.fixture
def subscribers(aws: Aws) -> tuple[Topic, str]:
    """The notification topic, and an SQS queue subscribed to it, as an operator would."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="bluegreen-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return Topic(sns, topic), queue


class Mailbox:
    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> str:
        self.sent.append(email)
        return f"message-{len(self.sent)}"


def received(aws: Aws, queue: str) -> list[dict[str, Any]]:
    messages = aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_a_rollback_is_announced_and_kept_in_the_history(
    aws: Aws, subscribers: tuple[Topic, str]
) -> None:
    topic, queue = subscribers
    ddb = aws.client("dynamodb")
    history = StateTable(ddb, create_state_table(ddb))
    chat = Chat()
    deployment = rendered().model_copy(
        update={
            "approval": ApprovalDecision(
                decision="approved", approver="a@example.com", decided_at=NOW
            ),
            "scaling": ScalingSnapshot(
                resource_id="service/demo/web", registered=True, suspended_at=NOW
            ),
            "error": StepError(Error="TestTrafficUnhealthy", Cause="8 checks, last: 503"),
        }
    )

    notified = notify(deployment, topic, chat, history, Mailbox(), NOW + timedelta(minutes=9))

    assert notified.outcome == "rolled_back"
    assert notified.problems == []
    assert notified.state.failure is not None
    assert notified.state.failure.error == "TestTrafficUnhealthy"
    (message,) = received(aws, queue)
    assert "rolled back" in message["Subject"]
    assert "Reason: TestTrafficUnhealthy: 8 checks, last: 503" in message["Message"]
    assert message["MessageAttributes"]["outcome"]["Value"] == "rolled_back"
    assert message["MessageAttributes"]["service"]["Value"] == "demo-web"
    (posted,) = chat.posted
    assert posted["text"] == message["Subject"]
    (entry,) = history.history("demo/web")
    assert entry["outcome"] == "rolled_back"
    assert entry["execution_name"] == deployment.execution_name
    assert entry["image"] == deployment.image.pinned
    assert entry["approved_by"] == "a@example.com"
    assert entry["error"] == "TestTrafficUnhealthy"
    assert entry["reason"] == "8 checks, last: 503"  # the failure's cause, as Notify tells it
    assert entry["digest"] == deployment.image.digest
    assert entry["retry_of"] is None
    assert entry["finished_at"] == (NOW + timedelta(minutes=9)).isoformat()


def test_without_slack_the_outcome_still_reaches_the_topic(
    aws: Aws, subscribers: tuple[Topic, str]
) -> None:
    topic, queue = subscribers
    ddb = aws.client("dynamodb")
    history = StateTable(ddb, create_state_table(ddb))

    notified = notify(rendered(), topic, None, history, Mailbox(), NOW)
    assert notified.outcome == "succeeded"
    assert notified.state.failure is None
    (message,) = received(aws, queue)
    assert "deployed" in message["Subject"]


def test_a_superseded_image_is_announced_and_its_approvers_told_no_decision_is_needed(
    aws: Aws, subscribers: tuple[Topic, str]
) -> None:
    topic, queue = subscribers
    ddb = aws.client("dynamodb")
    history = StateTable(ddb, create_state_table(ddb))
    chat, mailbox = Chat(), Mailbox()
    cause = "superseded by v1.4.1 (9f8e7d6), pushed later"
    deployment = rendered().model_copy(update={"error": StepError(Error="Superseded", Cause=cause)})

    notified = notify(deployment, topic, chat, history, mailbox, NOW)

    assert notified.outcome == "superseded"
    assert notified.state.failure is not None
    assert (notified.state.failure.error, notified.state.failure.cause) == ("Superseded", cause)
    (message,) = received(aws, queue)
    assert "superseded" in message["Subject"]
    assert f"Reason: Superseded: {cause}" in message["Message"]
    (posted,) = chat.posted
    assert ":fast_forward:" in posted["blocks"][0]["text"]["text"]
    (email,) = mailbox.sent
    assert email.to == list(deployment.service.approvers)
    assert "withdrawn" in email.text
    assert "accept no decision" in email.text
    (entry,) = history.history("demo/web")
    assert entry["outcome"] == "superseded"


def test_an_image_superseded_before_its_approval_request_mails_nobody(
    aws: Aws, subscribers: tuple[Topic, str]
) -> None:
    topic, _queue = subscribers
    ddb = aws.client("dynamodb")
    mailbox = Mailbox()
    pushed = state().model_copy(  # not rendered: Admit refused it
        update={"error": StepError(Error="Superseded", Cause="superseded by v1.4.1")}
    )

    notified = notify(pushed, topic, None, StateTable(ddb, create_state_table(ddb)), mailbox, NOW)

    assert notified.outcome == "superseded"
    assert mailbox.sent == []
