"""EventBridge invokes Lambda targets asynchronously: a trigger that fails on an event is
retried by Lambda and then lands in its OnFailure destination, as on AWS."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bluegreen_cli.local.server import LocalStack

from tests.unit.local.localstack_support import wait_for

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  RecordDir:
    Type: String
Resources:
  TriggerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/trigger/
      Handler: app.lambda_handler
      Runtime: python3.13
      Environment:
        Variables:
          RECORD_DIR: !Ref RecordDir
      EventInvokeConfig:
        MaximumRetryAttempts: 2
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt FailedEventsQueue.Arn
      Events:
        Push:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [mini.async]
  FailedEventsQueue:
    Type: AWS::SQS::Queue
"""

HANDLER = """
import json, os, pathlib, uuid

def lambda_handler(event, context):
    # One file per attempt, named after the event it was given.
    folder = pathlib.Path(os.environ["RECORD_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{event['id']}.{uuid.uuid4().hex}").write_text(json.dumps(event))
    raise LookupError(f"no service for {event['id']}")
"""


@pytest.fixture(scope="module")
def attempts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attempts")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, attempts: Path) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("async")
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "functions" / "trigger").mkdir(parents=True)
    (root / "functions" / "trigger" / "app.py").write_text(textwrap.dedent(HANDLER))
    with LocalStack(port=0, project_root=root, parameters={"RecordDir": str(attempts)}) as running:
        # Lambda's one- and two-minute waits become 0.3 s and 0.6 s.
        running.async_invocations.time_scale = 0.005
        yield running


def _failed_events(stack: LocalStack) -> list[dict[str, Any]]:
    url = stack.app.refs["FailedEventsQueue"] if stack.app else ""
    found = stack.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def _attempts_on(attempts: Path, event_id: str) -> int:
    return len(list(attempts.glob(f"{event_id}.*")))


def test_a_trigger_that_fails_ends_in_its_on_failure_queue_after_lambda_s_retries(
    stack: LocalStack, attempts: Path
) -> None:
    """EventBridge hands the event to Lambda (asynchronous invocation); Lambda runs the
    function 1 + MaximumRetryAttempts times, then sends the invocation record to the
    OnFailure destination."""
    sent = stack.client("events").put_events(
        Entries=[{"Source": "mini.async", "DetailType": "Push", "Detail": '{"repo": "x"}'}]
    )
    event_id = sent["Entries"][0]["EventId"]

    (record,) = wait_for(lambda: _failed_events(stack))

    assert _attempts_on(attempts, event_id) == 3
    trigger = stack.app.functions["TriggerFunction"] if stack.app else None
    assert trigger is not None
    assert record["requestContext"]["functionArn"] == f"{trigger.arn}:$LATEST"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["id"] == event_id
    assert record["requestPayload"]["source"] == "mini.async"
    assert record["requestPayload"]["detail"] == {"repo": "x"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "LookupError"
    assert record["responsePayload"]["errorMessage"] == f"no service for {event_id}"


def test_invoke_with_invocation_type_event_is_queued_the_same_way(
    stack: LocalStack, attempts: Path
) -> None:
    """Invoke with InvocationType=Event answers 202 at once; the request id it gives is
    the one in the invocation record."""
    trigger = stack.app.functions["TriggerFunction"] if stack.app else None
    assert trigger is not None

    answer = stack.client("lambda").invoke(
        FunctionName=trigger.name, InvocationType="Event", Payload=b'{"id": "by-hand"}'
    )

    assert answer["StatusCode"] == 202
    (record,) = wait_for(lambda: _failed_events(stack))
    assert record["requestContext"]["requestId"] == answer["ResponseMetadata"]["RequestId"]
    assert record["requestPayload"] == {"id": "by-hand"}
    assert _attempts_on(attempts, "by-hand") == 3
