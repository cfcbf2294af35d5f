"""The trigger step with moto-backed adapters: ECR, Step Functions, the table, the topic."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.adapters.ecr import EcrImages
from bluegreen.adapters.notifications import Topic
from bluegreen.adapters.slack import Posted
from bluegreen.adapters.stepfunctions import Executions
from bluegreen.adapters.store import StateTable
from bluegreen.config import ServiceCatalog
from bluegreen.models import DeploymentState, RollbackRequest
from bluegreen.push import EcrImageAction, TriggerResult
from bluegreen.steps.trigger import Channel, on_push, start

from tests.unit.builders import (
    ACCOUNT,
    COMMIT,
    NOW,
    REGION,
    SERVICES_FILE,
    Aws,
    catalog,
    create_pass_machine,
    create_state_table,
    demo_service,
    digest,
    image,
    push,
    push_image,
    state,
)

CATALOG = catalog()


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


@dataclass
class Trigger:
    """The trigger on the emulated account, and what it told the service's channel."""

    aws: Aws
    machine: str
    table: StateTable
    topic: Topic
    queue: str
    chat: Chat = field(default_factory=Chat)
    channels_built: int = 0

    def channel(self) -> Channel:
        self.channels_built += 1
        return Channel(self.table, self.topic, self.chat)

    def on(
        self, event: EcrImageAction, at: Any = NOW, services: ServiceCatalog = CATALOG
    ) -> TriggerResult:
        registry = EcrImages(self.aws.client("ecr"))
        executions = Executions(self.aws.client("stepfunctions"), self.machine)
        return on_push(event, ACCOUNT, REGION, services, registry, executions, self.channel, at)

    def started(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.aws.client("stepfunctions").list_executions(
            stateMachineArn=self.machine
        )["executions"]
        return listed

    def document(self, result: TriggerResult) -> DeploymentState:
        described = self.aws.client("stepfunctions").describe_execution(
            executionArn=result.execution_arn
        )
        return DeploymentState.model_validate_json(described["input"])

    def published(self) -> list[dict[str, Any]]:
        """What the topic's subscribers received (an SQS queue subscribed to it)."""
        answer = self.aws.client("sqs").receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    def history(self) -> list[dict[str, Any]]:
        return self.table.history(demo_service().lock_key)


@pytest.fixture
def trigger(aws: Aws) -> Trigger:
    sns, sqs, ddb = aws.client("sns"), aws.client("sqs"), aws.client("dynamodb")
    topic = sns.create_topic(Name="bluegreen-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return Trigger(
        aws,
        create_pass_machine(aws.client("stepfunctions")),
        StateTable(ddb, create_state_table(ddb)),
        Topic(sns, topic),
        queue,
    )


@pytest.fixture
def pushed(aws: Aws) -> str:
    """The digest of the image pushed as ``demo-web:COMMIT``."""
    return push_image(aws.client("ecr"))


# --- what starts a deployment -------------------------------------------------------------


def test_a_push_of_a_commit_starts_one_execution_with_the_pinned_image(
    trigger: Trigger, pushed: str
) -> None:
    result = trigger.on(push(image_digest=pushed))

    assert result.outcome == "started"
    (execution,) = trigger.started()
    assert execution["name"] == result.execution_name
    assert execution["executionArn"] == result.execution_arn
    deployment = trigger.document(result)
    assert deployment.service == demo_service()
    assert deployment.image.pinned.endswith(f"/demo-web@{pushed}")
    assert deployment.image.tag == COMMIT
    assert deployment.source == "ecr-push"
    assert deployment.requested_at == NOW
    assert deployment.render is None  # nothing is decided before the state machine runs
    assert trigger.channels_built == 0  # a push that deploys needs no table, topic or Slack


def test_the_push_time_is_ecrs(aws: Aws, trigger: Trigger, pushed: str) -> None:
    (detail,) = aws.client("ecr").describe_images(
        repositoryName="demo-web", imageIds=[{"imageDigest": pushed}]
    )["imageDetails"]

    result = trigger.on(push(image_digest=pushed))

    assert trigger.document(result).image.pushed_at == detail["imagePushedAt"]


def test_the_same_event_twice_starts_nothing_new(trigger: Trigger, pushed: str) -> None:
    first = trigger.on(push(image_digest=pushed))
    again = trigger.on(push(image_digest=pushed), NOW + timedelta(seconds=3))

    assert again.outcome == "duplicate"
    assert again.execution_name == first.execution_name
    assert again.execution_arn == first.execution_arn
    assert len(trigger.started()) == 1


def test_the_same_digest_under_a_second_tag_is_the_same_deployment(
    aws: Aws, trigger: Trigger, pushed: str
) -> None:
    """ECR sends one event per tag: the image pushed as a commit and a version deploys once."""
    assert push_image(aws.client("ecr"), tag="v1.4.0") == pushed

    first = trigger.on(push(tag=COMMIT, image_digest=pushed))
    second = trigger.on(push(tag="v1.4.0", image_digest=pushed), NOW + timedelta(seconds=1))

    assert first.outcome == "started"
    assert second.outcome == "duplicate"
    assert second.execution_name == first.execution_name
    assert second.execution_arn == first.execution_arn
    assert f"is the image of {first.execution_name}" in second.reason
    assert len(trigger.started()) == 1
    assert trigger.published() == []  # a duplicate is no refusal


def test_another_digest_is_another_deployment(aws: Aws, trigger: Trigger, pushed: str) -> None:
    rebuilt = push_image(aws.client("ecr"), tag="0a1b2c3d", seed="rebuilt")

    first = trigger.on(push(image_digest=pushed))
    second = trigger.on(push(tag="0a1b2c3d", image_digest=rebuilt))

    assert second.outcome == "started"
    assert second.execution_name != first.execution_name
    assert len(trigger.started()) == 2


def test_a_deployment_started_by_hand_is_marked_so(aws: Aws, trigger: Trigger, pushed: str) -> None:
    executions = Executions(aws.client("stepfunctions"), trigger.machine)

    result = start(demo_service(), image(image_digest=pushed), "cli", executions, NOW)

    assert result.outcome == "started"
    assert trigger.document(result).source == "cli"
    # and a push of the same image afterwards is the same deployment
    assert trigger.on(push(image_digest=pushed)).outcome == "duplicate"


def test_a_retry_is_named_and_marked_after_the_execution_it_retries(
    aws: Aws, trigger: Trigger, pushed: str
) -> None:
    executions = Executions(aws.client("stepfunctions"), trigger.machine)
    first = trigger.on(push(image_digest=pushed))
    assert first.execution_name is not None

    retried = start(
        demo_service(), image(image_digest=pushed), "cli", executions, NOW, first.execution_name, 2
    )

    assert retried.outcome == "started"
    assert retried.execution_name == f"{first.execution_name}-retry2"
    assert retried.reason.endswith(f"(retry of {first.execution_name})")
    document = trigger.document(retried)
    assert (document.retry_of, document.source) == (first.execution_name, "cli")
    assert document.image.digest == pushed


def test_a_rollback_is_named_apart_from_the_images_first_deployment_and_says_who(
    aws: Aws, trigger: Trigger, pushed: str
) -> None:
    executions = Executions(aws.client("stepfunctions"), trigger.machine)
    first = trigger.on(push(image_digest=pushed))
    request = RollbackRequest(requested_by="arn:aws:iam::123456789012:user/ops", from_tag="bad1bad")

    back = start(
        demo_service(), image(image_digest=pushed), "rollback", executions, NOW, attempt=3,
        rollback=request,
    )  # fmt: skip

    assert back.outcome == "started"
    assert back.execution_name == f"{first.execution_name}-rollback3"
    assert len(back.execution_name) <= 80
    assert back.reason.endswith("(rollback from bad1bad)")
    document = trigger.document(back)
    assert (document.source, document.rollback_request) == ("rollback", request)


def test_a_rollback_document_names_who_ran_it_and_only_a_rollback_does() -> None:
    base = state().model_dump()
    who = {"requested_by": "arn:aws:iam::123456789012:user/ops"}

    with pytest.raises(ValueError, match="go together"):
        DeploymentState.model_validate({**base, "source": "rollback"})
    with pytest.raises(ValueError, match="go together"):
        DeploymentState.model_validate({**base, "source": "cli", "rollback_request": who})
    assert DeploymentState.model_validate({**base, "source": "rollback", "rollback_request": who})


# --- what is refused, and told ------------------------------------------------------------


def test_a_digest_the_repository_does_not_hold_is_refused_and_starts_nothing(
    trigger: Trigger, pushed: str
) -> None:
    """DescribeImages answers ImageNotFoundException for a digest the repository lacks."""
    forged = digest("never pushed")

    result = trigger.on(push(image_digest=forged))

    assert result.outcome == "refused"
    assert result.reason == (
        f"digest {forged} is not an image of repository 'demo-web' (registry {ACCOUNT})"
    )
    assert result.execution_name is None
    assert trigger.started() == []


def test_another_repositorys_digest_is_refused(aws: Aws, trigger: Trigger, pushed: str) -> None:
    """A digest is an image of the repository it was pushed to, not of any other."""
    elsewhere = push_image(aws.client("ecr"), repository="billing", seed="billing build 7")

    result = trigger.on(push(image_digest=elsewhere))

    assert result.outcome == "refused"
    assert f"digest {elsewhere} is not an image of repository 'demo-web'" in result.reason
    assert trigger.started() == []


def test_a_tag_the_digest_does_not_carry_is_refused(trigger: Trigger, pushed: str) -> None:
    result = trigger.on(push(tag="v9.9.9", image_digest=pushed))

    assert result.outcome == "refused"
    assert result.reason == (
        f"digest {pushed} does not carry tag 'v9.9.9' in repository 'demo-web' "
        f"(registry {ACCOUNT}) (its tags: {COMMIT})"
    )
    assert trigger.started() == []


@pytest.mark.parametrize(("tag", "why"), [("latest", "mutable"), ("feature-x", "does not match")])
def test_a_refused_tag_starts_nothing(trigger: Trigger, tag: str, why: str) -> None:
    result = trigger.on(push(tag=tag))

    assert result.outcome == "refused"
    assert why in result.reason
    assert result.execution_name is None
    assert trigger.started() == []


def test_a_push_without_digest_starts_nothing(trigger: Trigger) -> None:
    result = trigger.on(push(image_digest=None))

    assert result.outcome == "refused"
    assert trigger.started() == []


def test_a_refusal_is_kept_in_the_history_and_told_to_the_channel(trigger: Trigger) -> None:
    event = push(tag="latest", image_digest=digest("a build"))

    result = trigger.on(event)

    assert result.announced is True
    assert result.problems == []
    (entry,) = trigger.history()
    assert entry == {
        "execution_name": None,
        "service": "demo-web",
        "environment": demo_service().environment,
        "outcome": "refused",
        "reason": result.reason,
        "repository": "demo-web",
        "tag": "latest",
        "digest": digest("a build"),
        "requested_at": NOW.isoformat(),
        "finished_at": NOW.isoformat(),
    }
    (message,) = trigger.published()
    assert message["Subject"] == (
        f"[bluegreen] demo-web push refused: demo-web:latest ({demo_service().environment})"
    )
    assert f"Reason: {result.reason}" in message["Message"]
    assert message["MessageAttributes"]["outcome"]["Value"] == "refused"
    assert message["MessageAttributes"]["service"]["Value"] == "demo-web"
    (posted,) = trigger.chat.posted
    assert posted["text"] == message["Subject"]
    assert result.reason in json.dumps(posted["blocks"])


def test_a_refusal_is_told_once_however_often_it_comes(trigger: Trigger) -> None:
    """A redelivered event, or the same image pushed again under the same tag."""
    event = push(tag="latest", image_digest=digest("a build"))
    trigger.on(event)

    again = [trigger.on(event, NOW + timedelta(minutes=m)) for m in (1, 30)]

    assert [(r.outcome, r.announced) for r in again] == [("refused", False)] * 2
    assert len(trigger.history()) == 1
    assert len(trigger.published()) == 1
    assert len(trigger.chat.posted) == 1


PIPELINE = """
[services.demo-web]
repository = "demo-web"
container = "web"
container_port = 8080

[services.demo-web.slack]
channel = "#deploys"
approvers = ["U0APPROVER"]

[services.demo-web.environments.dev]
role_arn = "arn:aws:iam::111111111111:role/bluegreen-deploy"
cluster = "demo-dev"
service = "web"
method = "rolling"
approvers = []

[services.demo-web.environments.prod]
cluster = "demo"
service = "web"
codedeploy_application = "demo-web"
deployment_group = "demo-web"
test_url = "http://demo-web.test/health"
approvers = ["approver@example.com"]
"""


def test_a_refusal_is_kept_in_every_environments_history_and_told_once(
    trigger: Trigger,
) -> None:
    """The image reaches none of the pipeline's environments: production's history (where
    an operator looks first) says why, as development's (where pushes enter) does."""
    services = ServiceCatalog.parse(PIPELINE, "services.toml")
    event = push(tag="latest", image_digest=digest("a build"))

    result = trigger.on(event, services=services)
    again = trigger.on(event, NOW + timedelta(minutes=1), services=services)

    assert (result.outcome, result.announced, result.problems) == ("refused", True, [])
    assert (again.outcome, again.announced) == ("refused", False)
    for environment in ("dev", "prod"):
        (entry,) = trigger.table.history(services.named("demo-web", environment).lock_key)
        assert (entry["outcome"], entry["tag"]) == ("refused", "latest")
        assert entry["environment"] == "dev"  # where it was refused: pushes enter there
        assert entry["reason"] == result.reason
    assert len(trigger.published()) == 1
    assert len(trigger.chat.posted) == 1
    assert trigger.started() == []


def test_another_image_refused_under_the_same_tag_is_told_too(trigger: Trigger) -> None:
    first = trigger.on(push(tag="latest", image_digest=digest("a build")))
    second = trigger.on(
        push(tag="latest", image_digest=digest("the next build")), NOW + timedelta(hours=1)
    )

    assert (first.announced, second.announced) == (True, True)
    assert [e["digest"] for e in trigger.history()] == [digest("the next build"), digest("a build")]
    assert len(trigger.chat.posted) == 2


def test_a_forged_digest_is_told_as_such(trigger: Trigger, pushed: str) -> None:
    forged = digest("never pushed")

    result = trigger.on(push(image_digest=forged))

    assert result.announced is True
    (entry,) = trigger.history()
    assert (entry["tag"], entry["digest"]) == (COMMIT, forged)
    assert "is not an image of repository 'demo-web'" in entry["reason"]


def test_a_channel_that_fails_is_reported_and_the_others_still_told(
    aws: Aws, trigger: Trigger
) -> None:
    trigger.topic = Topic(aws.client("sns"), f"arn:aws:sns:{REGION}:{ACCOUNT}:deleted")

    result = trigger.on(push(tag="latest"))

    assert result.outcome == "refused"
    assert result.announced is True
    (problem,) = result.problems
    assert problem.startswith("sns: NotFoundException")
    assert len(trigger.history()) == 1
    assert len(trigger.chat.posted) == 1


def test_an_unknown_repository_is_ignored_and_told_to_nobody(trigger: Trigger) -> None:
    result = trigger.on(push(repository="billing", tag="latest"))

    assert result.outcome == "ignored"
    assert "'billing' is not in the service configuration" in result.reason
    assert trigger.started() == []
    assert trigger.channels_built == 0


@pytest.mark.parametrize(("action", "result"), [("DELETE", "SUCCESS"), ("PUSH", "FAILURE")])
def test_anything_but_a_successful_push_is_ignored(
    trigger: Trigger, action: str, result: str
) -> None:
    outcome = trigger.on(push(action=action, result=result))

    assert outcome.outcome == "ignored"
    assert trigger.started() == []
    assert trigger.channels_built == 0


# --- a repository that feeds several services ---------------------------------------------

WORKER = (
    SERVICES_FILE.read_text()
    .replace("services.demo-web", "services.demo-worker")
    .replace('service = "web"', 'service = "worker"')
)


def test_a_push_starts_every_service_built_from_the_repository(
    trigger: Trigger, pushed: str
) -> None:
    services = ServiceCatalog.parse(SERVICES_FILE.read_text() + WORKER, "services.toml")

    result = trigger.on(push(image_digest=pushed), services=services)

    assert result.outcome == "started"
    assert [(a.service, a.outcome) for a in result.per_service] == [
        ("demo-web", "started"),
        ("demo-worker", "started"),
    ]
    names = {e["name"] for e in trigger.started()}
    assert names == {a.execution_name for a in result.per_service}
    for answer in result.per_service:
        document = trigger.document(answer)
        assert (document.service.name, document.image.digest) == (answer.service, pushed)
    assert result.execution_name is None  # two executions: each answer names its own
    assert result.reason.startswith(f"demo-web: started, demo-web:{COMMIT} -> demo-web; ")


def test_a_push_one_service_refuses_still_deploys_the_other(trigger: Trigger, pushed: str) -> None:
    strict = WORKER.replace(
        "[services.demo-worker.timings]", "tag_pattern = '^v\\d+'\n\n[services.demo-worker.timings]"
    )
    services = ServiceCatalog.parse(SERVICES_FILE.read_text() + strict, "services.toml")
    worker = services.named("demo-worker")

    result = trigger.on(push(image_digest=pushed), services=services)

    assert result.outcome == "started"
    web_answer, worker_answer = result.per_service
    assert (web_answer.outcome, worker_answer.outcome) == ("started", "refused")
    assert worker_answer.announced
    assert "does not match the immutable tag pattern of 'demo-worker'" in worker_answer.reason
    assert [e["name"] for e in trigger.started()] == [web_answer.execution_name]
    (refused,) = trigger.table.history(worker.lock_key)
    assert (refused["service"], refused["outcome"]) == ("demo-worker", "refused")
    assert trigger.history() == []  # demo-web's history: its deployment is running
    assert trigger.channels_built == 1


def test_a_push_of_a_templates_second_repository_deploys_its_service(
    aws: Aws, trigger: Trigger
) -> None:
    template = {
        "family": "web",
        "containerDefinitions": [
            {"name": "web", "image": "<IMAGE1_NAME>", "memory": 512},
            {"name": "sidecar", "image": "<IMAGE2_NAME>", "memory": 128},
        ],
    }
    service = demo_service(
        task_definition=template, images={"IMAGE1_NAME": "demo-web", "IMAGE2_NAME": "demo-sidecar"}
    )
    sidecar = push_image(aws.client("ecr"), seed="sidecar build 1", repository="demo-sidecar")

    result = trigger.on(
        push(image_digest=sidecar, repository="demo-sidecar"), services=ServiceCatalog([service])
    )

    assert (result.outcome, result.service) == ("started", "demo-web")
    assert result.per_service == []  # one service: its answer as it is
    deployment = trigger.document(result)
    assert (
        deployment.image.pinned
        == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/demo-sidecar@{sidecar}"
    )
    assert deployment.service.task_definition == template
