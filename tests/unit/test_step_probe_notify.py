"""The probe step against a real HTTP server, and the outcome notification on moto."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.adapters.http_probe import check
from bluegreen.adapters.notifications import Topic
from bluegreen.adapters.slack import Posted
from bluegreen.adapters.store import StateTable
from bluegreen.domain.messages import Email
from bluegreen.errors import TestTrafficUnhealthy
from bluegreen.models import (
    ApprovalDecision,
    DeploymentState,
    RollbackRequest,
    ScalingSnapshot,
    StepError,
    Timings,
)
from bluegreen.steps.notify import notify
from bluegreen.steps.probe import probe

from tests.unit.builders import (
    NOW,
    PREVIOUS_IMAGE,
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
    """A Slack app that keeps what it posted (with the channel and thread) and updated."""

    posted: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)

    def post(self, channel: str, message: dict[str, Any], thread_ts: str | None = None) -> Posted:
        self.posted.append({**message, "channel": channel, "thread_ts": thread_ts})
        return Posted(channel="C0DEPLOYS", ts=f"2.{len(self.posted)}")

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        self.updated.append({**message, "channel": channel, "ts": ts})


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


def test_a_rollbacks_history_row_says_who_ran_it_and_from_what(
    aws: Aws, subscribers: tuple[Topic, str]
) -> None:
    topic, queue = subscribers
    ddb = aws.client("dynamodb")
    history = StateTable(ddb, create_state_table(ddb))
    by = "arn:aws:sts::123456789012:assumed-role/ops/alice"
    request = RollbackRequest(
        requested_by=by,
        from_image=PREVIOUS_IMAGE,
        from_tag="bad1bad",
        from_task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    )
    deployment = rendered().model_copy(
        update={
            "execution_name": "demo-web-0123456789ab-rollback1",
            "source": "rollback",
            "rollback_request": request,
        }
    )

    notified = notify(deployment, topic, None, history, Mailbox(), NOW)

    assert notified.outcome == "succeeded"
    (entry,) = history.history("demo/web")
    assert entry["outcome"] == "succeeded"
    assert entry["source"] == "rollback"
    assert entry["requested_by"] == by
    assert entry["from"] == {
        "image": PREVIOUS_IMAGE,
        "tag": "bad1bad",
        "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    }
    assert entry["image"] == deployment.image.pinned
    assert entry["approved_by"] is None
    (message,) = received(aws, queue)
    assert f"rollback to {deployment.image.tag} deployed" in message["Subject"]
    assert f"Rollback by: {by}" in message["Message"]
    assert f"Rolled back from: {PREVIOUS_IMAGE}" in message["Message"]


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


def _requested(history: StateTable, deployment: Any, status: str = "pending") -> Any:
    """The approval request the execution made, as RequestApproval stored and posted it."""
    from bluegreen.domain import approval as rules

    record = rules.record_for(deployment, "appr-42", "token", NOW)
    history.put_approval(record)
    history.set_slack_message("appr-42", "C0DEPLOYS", "1.000001")
    if status == "superseded":
        history.supersede_approval("appr-42", "v1.4.1 (9f8e7d6)", NOW)
    return record


def test_the_outcome_is_a_reply_in_the_thread_of_the_slack_request(
    aws: Aws, subscribers: tuple[Topic, str]
) -> None:
    topic, _queue = subscribers
    ddb = aws.client("dynamodb")
    history = StateTable(ddb, create_state_table(ddb))
    chat = Chat()
    deployment = rendered().model_copy(
        update={
            "approval": ApprovalDecision(
                decision="approved", approver="Slack user U0APPROVER", decided_at=NOW
            )
        }
    )
    _requested(history, deployment)

    notify(deployment, topic, chat, history, Mailbox(), NOW)

    (posted,) = chat.posted
    assert (posted["channel"], posted["thread_ts"]) == ("C0DEPLOYS", "1.000001")
    assert chat.updated == []  # the approval showed its decision already


def test_an_approval_nobody_decided_in_time_is_marked_expired_and_slack_says_so(
    aws: Aws, subscribers: tuple[Topic, str]
) -> None:
    topic, _queue = subscribers
    ddb = aws.client("dynamodb")
    history = StateTable(ddb, create_state_table(ddb))
    chat = Chat()
    timed_out = rendered().model_copy(update={"error": StepError(Error="States.Timeout")})
    _requested(history, timed_out)

    notified = notify(timed_out, topic, chat, history, Mailbox(), NOW)

    assert notified.state.failure is not None
    assert notified.state.failure.error == "ApprovalTimedOut"
    assert history.get_approval("appr-42").status == "expired"
    (updated,) = chat.updated
    assert updated["ts"] == "1.000001"
    assert "*Expired*" in json.dumps(updated["blocks"])
    assert not any(b["type"] == "actions" for b in updated["blocks"])  # no buttons left
    (reply,) = chat.posted
    assert reply["thread_ts"] == "1.000001"


def test_a_superseded_request_shows_it_on_its_slack_message(
    aws: Aws, subscribers: tuple[Topic, str]
) -> None:
    topic, _queue = subscribers
    ddb = aws.client("dynamodb")
    history = StateTable(ddb, create_state_table(ddb))
    chat = Chat()
    cause = "superseded by v1.4.1 (9f8e7d6), pushed later"
    deployment = rendered().model_copy(update={"error": StepError(Error="Superseded", Cause=cause)})
    _requested(history, deployment, status="superseded")

    notify(deployment, topic, chat, history, Mailbox(), NOW)

    (updated,) = chat.updated
    assert "*Superseded* by v1.4.1 (9f8e7d6)" in json.dumps(updated["blocks"])
    assert history.get_approval("appr-42").status == "superseded"  # not turned expired
