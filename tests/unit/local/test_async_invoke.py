"""Lambda's asynchronous invocation: retries, event age, and the invocation records sent to
destinations, as the Lambda Developer Guide ("Asynchronous invocation") documents them."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bluegreen_cli.local.async_invoke import AsyncInvoker
from bluegreen_cli.local.runtime import Invocation, Throttled
from bluegreen_cli.local.template import LocalFunction

from tests.unit.builders import ACCOUNT, REGION, Aws
from tests.unit.local.localstack_support import wait_for

ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:flaky"
ERROR = {"errorMessage": "no such repository", "errorType": "UnknownRepository"}


def _function(**event_invoke_config: Any) -> LocalFunction:
    return LocalFunction(
        logical_id="Flaky",
        name="flaky",
        arn=ARN,
        code_dir=Path("."),
        handler="app.lambda_handler",
        environment={},
        event_invoke_config=event_invoke_config or None,
    )


def _failed() -> Invocation:
    return Invocation("r", json.dumps(ERROR).encode(), "Unhandled", "UnknownRepository", 1.0)


def _succeeded(result: Any) -> Invocation:
    return Invocation("r", json.dumps(result).encode(), None, None, 1.0)


class Runs:
    """The function as Lambda's queue sees it: answers given in turn, calls timed."""

    def __init__(self, *answers: Callable[[], Invocation]) -> None:
        self.answers = list(answers)
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, function: LocalFunction, event: Any) -> Invocation:
        with self._lock:
            self.times.append(time.monotonic())
            answer = self.answers[min(len(self.times), len(self.answers)) - 1]
        return answer()


def _throttled() -> Invocation:
    raise Throttled("busy")


@pytest.fixture
def queues(aws: Aws) -> dict[str, str]:
    sqs = aws.client("sqs")
    urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("failed", "done")}
    return urls


def _arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def _messages(aws: Aws, url: str) -> list[dict[str, Any]]:
    found = aws.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


@pytest.fixture
def invokers(aws: Aws) -> Iterator[Callable[[Runs, float], AsyncInvoker]]:
    started: list[AsyncInvoker] = []

    def make(runs: Runs, time_scale: float) -> AsyncInvoker:
        invoker = AsyncInvoker(runs, aws.client, time_scale=time_scale)
        invoker.start()
        started.append(invoker)
        return invoker

    yield make
    for invoker in started:
        invoker.stop()


def test_a_failing_event_is_retried_twice_then_recorded_on_failure(
    aws: Aws, queues: dict[str, str], invokers: Callable[[Runs, float], AsyncInvoker]
) -> None:
    """By default Lambda retries a function error twice, one minute after the first
    attempt and two minutes after the second, then sends the invocation record (condition
    RetriesExhausted) to the OnFailure destination."""
    runs = Runs(_failed)
    scale = 0.005  # a minute is 0.3 s
    invoker = invokers(runs, scale)
    function = _function(DestinationConfig={"OnFailure": {"Destination": _arn("failed")}})

    request_id = invoker.submit(function, {"repository": "nope"})

    (record,) = wait_for(lambda: _messages(aws, queues["failed"]))
    assert len(runs.times) == 3
    assert runs.times[1] - runs.times[0] >= 60 * scale
    assert runs.times[2] - runs.times[1] >= 120 * scale
    assert set(record) == {
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    }
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{ARN}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"repository": "nope"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"] == ERROR


def test_maximum_retry_attempts_zero_means_one_invocation(
    aws: Aws, queues: dict[str, str], invokers: Callable[[Runs, float], AsyncInvoker]
) -> None:
    runs = Runs(_failed)
    invoker = invokers(runs, 0.001)
    function = _function(
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": _arn("failed")}},
    )

    invoker.submit(function, {"n": 1})

    (record,) = wait_for(lambda: _messages(aws, queues["failed"]))
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(runs.times) == 1


def test_a_retry_that_succeeds_is_recorded_on_success_only(
    aws: Aws, queues: dict[str, str], invokers: Callable[[Runs, float], AsyncInvoker]
) -> None:
    runs = Runs(_failed, lambda: _succeeded({"started": "demo-web-abc"}))
    invoker = invokers(runs, 0.001)
    function = _function(
        DestinationConfig={
            "OnSuccess": {"Destination": _arn("done")},
            "OnFailure": {"Destination": _arn("failed")},
        }
    )

    invoker.submit(function, {"n": 2})

    (record,) = wait_for(lambda: _messages(aws, queues["done"]))
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"started": "demo-web-abc"}
    assert invoker.wait_idle()
    assert _messages(aws, queues["failed"]) == []


def test_an_event_the_function_never_takes_expires_at_its_maximum_age(
    aws: Aws, queues: dict[str, str], invokers: Callable[[Runs, float], AsyncInvoker]
) -> None:
    """Throttles are retried with growing waits until the event is older than
    MaximumEventAgeInSeconds; then the record says EventAgeExceeded."""
    runs = Runs(_throttled)
    scale = 0.002  # the minimum age, 60 s, is 0.12 s
    invoker = invokers(runs, scale)
    function = _function(
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": _arn("failed")}},
    )

    invoker.submit(function, {"n": 3})

    (record,) = wait_for(lambda: _messages(aws, queues["failed"]))
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record
    assert len(runs.times) > 1
