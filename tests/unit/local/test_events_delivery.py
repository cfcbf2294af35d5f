"""Events reach the Lambda targets of matching rules: ECR pushes, PutEvents, executions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bluegreen_cli.local.sample import image_manifest
from bluegreen_cli.local.server import LocalStack
from botocore.exceptions import ClientError

from tests.unit.local.localstack_support import wait_for, write_project

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("records")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, records: Path) -> Iterator[LocalStack]:
    root = write_project(tmp_path_factory.mktemp("mini"))
    with LocalStack(port=0, project_root=root, parameters={"RecordDir": str(records)}) as running:
        yield running


def _recorded(records: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(records.glob("*.json"))]


def _recorded_where(records: Path, **detail: Any) -> list[dict[str, Any]]:
    return [
        event
        for event in _recorded(records)
        if all(event["detail"].get(k) == v for k, v in detail.items())
    ]


def test_an_ecr_push_reaches_the_rule_target_as_ecr_shapes_it(
    stack: LocalStack, records: Path
) -> None:
    ecr = stack.client("ecr")
    ecr.create_repository(repositoryName="pushed")
    image = ecr.put_image(
        repositoryName="pushed",
        imageManifest=image_manifest("pushed:1"),
        imageManifestMediaType=MANIFEST_TYPE,
        imageTag="0c1d2e3f",
    )["image"]

    (event,) = wait_for(lambda: _recorded_where(records, **{"repository-name": "pushed"}))

    assert event["source"] == "aws.ecr"
    assert event["detail-type"] == "ECR Image Action"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["detail"] == {
        "result": "SUCCESS",
        "repository-name": "pushed",
        "image-digest": image["imageId"]["imageDigest"],
        "action-type": "PUSH",
        "image-tag": "0c1d2e3f",
        "manifest-media-type": MANIFEST_TYPE,
    }


def test_a_failed_push_emits_nothing(stack: LocalStack, records: Path) -> None:
    ecr = stack.client("ecr")
    ecr.create_repository(repositoryName="refused")
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        # A manifest without a media type, given nowhere else either, is refused.
        ecr.put_image(
            repositoryName="refused", imageManifest='{"schemaVersion": 2}', imageTag="abc"
        )

    assert stack.events.wait_idle()
    assert not _recorded_where(records, **{"repository-name": "refused"})


def test_put_events_are_delivered_to_matching_rules_only(stack: LocalStack, records: Path) -> None:
    response = stack.client("events").put_events(
        Entries=[
            {"Source": "mini.app", "DetailType": "Thing", "Detail": '{"kind": "wanted-1"}'},
            {"Source": "mini.app", "DetailType": "Thing", "Detail": '{"kind": "unwanted"}'},
            {"Source": "other.app", "DetailType": "Thing", "Detail": '{"kind": "wanted-2"}'},
        ]
    )

    assert response["FailedEntryCount"] == 0
    assert stack.events.wait_idle()
    (event,) = wait_for(lambda: _recorded_where(records, kind="wanted-1"))
    assert event["id"] == response["Entries"][0]["EventId"]
    assert event["source"] == "mini.app"
    assert event["detail-type"] == "Thing"
    assert not _recorded_where(records, kind="unwanted")
    assert not _recorded_where(records, kind="wanted-2")


def test_a_disabled_rule_delivers_nothing(stack: LocalStack, records: Path) -> None:
    events = stack.client("events")
    events.disable_rule(Name="bluegreen-RecorderFunctionCustom")
    try:
        events.put_events(
            Entries=[
                {"Source": "mini.app", "DetailType": "Thing", "Detail": '{"kind": "wanted-off"}'}
            ]
        )
        assert stack.events.wait_idle()
        # Lambda targets run from Lambda's own queue, after EventBridge handed them over.
        assert stack.async_invocations.wait_idle()
    finally:
        events.enable_rule(Name="bluegreen-RecorderFunctionCustom")

    assert not _recorded_where(records, kind="wanted-off")


def test_an_aborted_execution_emits_its_status_change(stack: LocalStack, records: Path) -> None:
    sfn = stack.client("stepfunctions")
    machine = stack.app.state_machines["WaitMachine"] if stack.app else ""
    started = sfn.start_execution(stateMachineArn=machine, name="to-abort", input='{"n": 1}')
    # The watcher sees it running before it is stopped.
    wait_for(lambda: stack.stats()["events"]["emitted"] > 0 and _running_seen(stack))

    sfn.stop_execution(executionArn=started["executionArn"], error="Operator", cause="test")

    (event,) = wait_for(lambda: _recorded_where(records, status="ABORTED"))
    detail = event["detail"]
    assert event["source"] == "aws.states"
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [started["executionArn"]]
    assert detail["executionArn"] == started["executionArn"]
    assert detail["stateMachineArn"] == machine
    assert detail["name"] == "to-abort"
    assert json.loads(detail["input"]) == {"n": 1}
    assert isinstance(detail["startDate"], int)
    assert isinstance(detail["stopDate"], int)
    assert detail["stopDate"] >= detail["startDate"]


def _running_seen(stack: LocalStack) -> bool:
    return stack.stats()["executions"].get("RUNNING", 0) > 0


def test_test_event_pattern_is_answered_with_the_local_matcher(stack: LocalStack) -> None:
    events = stack.client("events")
    event = json.dumps(
        {
            "id": "1",
            "source": "aws.ecr",
            "detail-type": "ECR Image Action",
            "account": "123456789012",
            "region": "us-east-1",
            "time": "2024-01-01T00:00:00Z",
            "resources": [],
            "detail": {"action-type": "PUSH"},
        }
    )

    assert events.test_event_pattern(
        EventPattern=json.dumps({"detail": {"action-type": ["PUSH"]}}), Event=event
    )["Result"]
    assert not events.test_event_pattern(
        EventPattern=json.dumps({"detail": {"action-type": ["DELETE"]}}), Event=event
    )["Result"]


def test_put_events_reports_the_entries_it_refuses(stack: LocalStack) -> None:
    response = stack.client("events").put_events(
        Entries=[
            {"Source": "mini.app", "DetailType": "Thing", "Detail": "not json"},
            {"Source": "mini.app", "DetailType": "Thing", "Detail": '{"kind": "fine"}'},
        ]
    )

    assert response["FailedEntryCount"] == 1
    assert response["Entries"][0]["ErrorCode"] == "MalformedDetail"
    assert "EventId" in response["Entries"][1]


def test_other_target_types_are_still_delivered_by_the_emulator(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    events = stack.client("events")
    queue_url = sqs.create_queue(QueueName="copies")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name="copy-pushes", EventPattern=json.dumps({"source": ["aws.ecr"]}))
    events.put_targets(Rule="copy-pushes", Targets=[{"Id": "queue", "Arn": queue_arn}])
    ecr = stack.client("ecr")
    ecr.create_repository(repositoryName="copied")

    ecr.put_image(
        repositoryName="copied",
        imageManifest=image_manifest("copied:1"),
        imageManifestMediaType=MANIFEST_TYPE,
        imageTag="feedbeef",
    )

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    (message,) = wait_for(received)
    assert message["detail"]["repository-name"] == "copied"
    assert message["detail-type"] == "ECR Image Action"


def _client_error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as failed:
        call(**kwargs)
    return dict(failed.value.response["Error"])


def test_put_rule_refuses_a_pattern_eventbridge_refuses(stack: LocalStack) -> None:
    """PutRule answers InvalidEventPatternException and stores nothing."""
    events = stack.client("events")

    error = _client_error(
        events.put_rule, Name="scalar-leaf", EventPattern='{"source": "mini.app"}'
    )

    assert error["Code"] == "InvalidEventPatternException"
    assert error["Message"] == (
        'Event pattern is not valid. Reason: "source" must be an object or an array'
    )
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name="scalar-leaf")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ('{"detail": {"n": [{"numeric": [">"]}]}}', "Value of > must be numeric"),
        (
            '{"detail": {"on": [{"exists": "yes"}]}}',
            "exists match pattern must be either true or false.",
        ),
        (
            '{"source": [{"anything-but": [null]}]}',
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        ('{"source": [{"between": ["a", "b"]}]}', "Unrecognized match type between"),
    ],
)
def test_put_rule_gives_eventbridge_s_reason(stack: LocalStack, pattern: str, reason: str) -> None:
    error = _client_error(stack.client("events").put_rule, Name="refused", EventPattern=pattern)

    assert error["Code"] == "InvalidEventPatternException"
    assert error["Message"] == f"Event pattern is not valid. Reason: {reason}"


def test_put_rule_with_a_valid_pattern_is_stored(stack: LocalStack) -> None:
    events = stack.client("events")
    pattern = '{"detail": {"state": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]}}'

    events.put_rule(Name="accepted", EventPattern=pattern)

    assert events.describe_rule(Name="accepted")["EventPattern"] == pattern


def test_put_rule_refuses_patterns_beyond_the_size_limits(stack: LocalStack) -> None:
    """The "Event pattern size" quota (2048 characters by default) and the API's 4096."""
    events = stack.client("events")

    def pattern_of(length: int) -> str:
        head = '{"source": ["'
        return head + "x" * (length - len(head) - 3) + '"]}'

    events.put_rule(Name="at-quota", EventPattern=pattern_of(2048))
    over_quota = _client_error(events.put_rule, Name="big", EventPattern=pattern_of(2049))
    over_limit = _client_error(events.put_rule, Name="big", EventPattern=pattern_of(4097))

    assert over_quota["Code"] == "LimitExceededException"
    assert over_limit["Code"] == "ValidationException"
    assert over_limit["Message"].endswith("Member must have length less than or equal to 4096")


def test_test_event_pattern_refuses_a_pattern_as_put_rule_does(stack: LocalStack) -> None:
    error = _client_error(
        stack.client("events").test_event_pattern,
        EventPattern='{"detail": {"ip": [{"cidr": "10.0.0.0/32"}]}}',
        Event=json.dumps({"id": "1", "source": "a", "detail": {}}),
    )

    assert error["Code"] == "InvalidEventPatternException"
    assert error["Message"] == "Event pattern is not valid. Reason: IPv4 mask bits must be < 32"


def test_put_events_refuses_an_aws_source_per_entry(stack: LocalStack, records: Path) -> None:
    """PutEvents: the aws. prefix is for AWS services; such an entry fails on its own."""
    response = stack.client("events").put_events(
        Entries=[
            {"Source": "aws.ecr", "DetailType": "ECR Image Action", "Detail": '{"kind": "x"}'},
            {"Source": "mini.app", "DetailType": "Thing", "Detail": '{"kind": "wanted-next"}'},
        ]
    )

    assert response["FailedEntryCount"] == 1
    assert response["Entries"][0] == {
        "ErrorCode": "NotAuthorizedForSourceException",
        "ErrorMessage": "Not authorized for the source.",
    }
    (event,) = wait_for(lambda: _recorded_where(records, kind="wanted-next"))
    assert event["id"] == response["Entries"][1]["EventId"]


def test_a_rule_eventbridge_would_refuse_stops_no_other_rule(
    stack: LocalStack, records: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each rule matches on its own: one whose pattern cannot be evaluated (stored in
    the emulator behind PutRule's back) is skipped, reported once, and later rules still
    get the event."""
    from moto.events.models import events_backends

    events = stack.client("events")
    events_backends["123456789012"]["us-east-1"].put_rule(
        name="broken", event_pattern='{"detail": {"n": [{"numeric": [">"]}]}}'
    )
    recorder = stack.app.functions["RecorderFunction"].arn if stack.app else ""
    events.put_rule(Name="after-broken", EventPattern='{"source": ["mini.isolated"]}')
    events.put_targets(Rule="after-broken", Targets=[{"Id": "recorder", "Arn": recorder}])
    try:
        for n in (1, 2):
            events.put_events(
                Entries=[{"Source": "mini.isolated", "DetailType": "T", "Detail": f'{{"n": {n}}}'}]
            )
        wait_for(lambda: len(_recorded_where(records, n=1) + _recorded_where(records, n=2)) == 2)
    finally:
        events.remove_targets(Rule="after-broken", Ids=["recorder"])
        events.delete_rule(Name="after-broken")
        events.delete_rule(Name="broken")

    reports = [r for r in caplog.records if "rule broken is skipped" in r.getMessage()]
    assert len(reports) == 1
    assert "Value of > must be numeric" in reports[0].getMessage()


def test_an_undeliverable_event_goes_to_the_target_dead_letter_queue(stack: LocalStack) -> None:
    """EventBridge sends an event it cannot deliver (the target does not exist) straight to
    the target's dead-letter queue, with the documented message attributes."""
    sqs = stack.client("sqs")
    events = stack.client("events")
    queue_url = sqs.create_queue(QueueName="undelivered")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    missing = "arn:aws:lambda:us-east-1:123456789012:function:no-such-function"
    rule_arn = events.put_rule(Name="to-nowhere", EventPattern='{"source": ["mini.nowhere"]}')[
        "RuleArn"
    ]
    events.put_targets(
        Rule="to-nowhere",
        Targets=[{"Id": "gone", "Arn": missing, "DeadLetterConfig": {"Arn": queue_arn}}],
    )

    sent = events.put_events(
        Entries=[{"Source": "mini.nowhere", "DetailType": "Lost", "Detail": '{"n": 7}'}]
    )

    def received() -> list[dict[str, Any]]:
        return list(
            sqs.receive_message(
                QueueUrl=queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
        )

    (message,) = wait_for(received)
    event = json.loads(message["Body"])
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert event["id"] == sent["Entries"][0]["EventId"]
    assert event["detail"] == {"n": 7}
    assert attributes["ERROR_CODE"] == "NO_RESOURCE"
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == missing
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert attributes["ERROR_MESSAGE"]
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes


def test_ecr_push_times_are_to_the_millisecond_so_pushes_in_one_second_are_ordered(
    stack: LocalStack,
) -> None:
    """ECR DescribeImages: imagePushedAt carries milliseconds; a newer push reads newer."""
    ecr = stack.client("ecr")
    ecr.create_repository(repositoryName="quick")
    digests = [
        ecr.put_image(
            repositoryName="quick",
            imageManifest=image_manifest(f"quick:{n}"),
            imageManifestMediaType=MANIFEST_TYPE,
            imageTag=f"0c1d2e3{n}",
        )["image"]["imageId"]["imageDigest"]
        for n in range(3)
    ]

    details = ecr.describe_images(repositoryName="quick")["imageDetails"]
    pushed = {d["imageDigest"]: d["imagePushedAt"] for d in details}
    times = [pushed[digest] for digest in digests]
    assert times == sorted(times)
    assert len(set(times)) == 3
    assert (times[-1] - times[0]).total_seconds() < 5
