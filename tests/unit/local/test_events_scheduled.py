"""Scheduled rules on the local stack: PutRule's checks, and firings reaching the targets."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bluegreen_cli.local.server import LocalStack
from botocore.exceptions import ClientError

from tests.unit.local.localstack_support import wait_for, write_project

RECORDER = "bluegreen-RecorderFunction"


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("records")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, records: Path) -> Iterator[LocalStack]:
    root = write_project(tmp_path_factory.mktemp("mini"))
    with LocalStack(port=0, project_root=root, parameters={"RecordDir": str(records)}) as running:
        yield running


def _scheduled(records: Path, rule_arn: str) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in sorted(records.glob("*.json"))]
    return [
        e
        for e in found
        if e.get("detail-type") == "Scheduled Event" and e["resources"] == [rule_arn]
    ]


def _fire(stack: LocalStack, name: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{stack.endpoint_url}/_local/rules/{name}/fire", method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _scheduled_rule(stack: LocalStack, name: str, expression: str, **extra: Any) -> str:
    events = stack.client("events")
    arn = str(events.put_rule(Name=name, ScheduleExpression=expression, **extra)["RuleArn"])
    function = stack.client("lambda").get_function(FunctionName=RECORDER)["Configuration"]
    events.put_targets(Rule=name, Targets=[{"Id": "recorder", "Arn": function["FunctionArn"]}])
    return arn


def _client_error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as failed:
        call(**kwargs)
    return dict(failed.value.response["Error"])


def test_a_scheduled_rule_hands_its_target_eventbridges_scheduled_event(
    stack: LocalStack, records: Path
) -> None:
    arn = _scheduled_rule(stack, "every-minute", "rate(1 minute)")

    status, answer = _fire(stack, "every-minute")

    assert status == 200
    (event,) = wait_for(lambda: _scheduled(records, arn))
    assert event == answer["event"]
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["version"] == "0"
    assert event["source"] == "aws.events"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["detail"] == {}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert re.fullmatch(r"[0-9a-f-]{36}", event["id"])


def test_a_disabled_scheduled_rule_fires_nothing(stack: LocalStack, records: Path) -> None:
    arn = _scheduled_rule(stack, "switched-off", "rate(5 minutes)", State="DISABLED")

    status, answer = _fire(stack, "switched-off")

    assert status == 409
    assert "DISABLED" in answer["message"]
    assert stack.events.wait_idle()
    assert stack.async_invocations.wait_idle()
    assert _scheduled(records, arn) == []


def test_sams_schedule_event_makes_a_scheduled_rule_for_its_function(
    stack: LocalStack, records: Path
) -> None:
    """The template's ``Schedule`` event with ``Enabled: false`` is a DISABLED rule with the
    schedule; enabled, its firings reach the function."""
    events = stack.client("events")
    name = "bluegreen-RecorderFunctionNightly"
    rule = events.describe_rule(Name=name)
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rule["State"] == "DISABLED"
    assert "EventPattern" not in rule
    assert _fire(stack, name)[0] == 409

    events.enable_rule(Name=name)
    try:
        assert _fire(stack, name)[0] == 200
        (event,) = wait_for(lambda: _scheduled(records, rule["Arn"]))
    finally:
        events.disable_rule(Name=name)
    assert event["detail-type"] == "Scheduled Event"


def test_firing_answers_404_for_an_unknown_rule_and_409_for_one_without_a_schedule(
    stack: LocalStack,
) -> None:
    assert _fire(stack, "no-such-rule")[0] == 404
    status, answer = _fire(stack, "bluegreen-RecorderFunctionPush")
    assert status == 409
    assert "no ScheduleExpression" in answer["message"]


@pytest.mark.parametrize(
    "expression", ["rate(1 minutes)", "rate(5 minute)", "cron(*/60 * * * ? *)"]
)
def test_put_rule_refuses_a_schedule_expression_eventbridge_refuses(
    stack: LocalStack, expression: str
) -> None:
    """PutRule answers ValidationException "Parameter ScheduleExpression is not valid." and
    stores nothing."""
    events = stack.client("events")

    error = _client_error(events.put_rule, Name="bad-schedule", ScheduleExpression=expression)

    assert error == {
        "Code": "ValidationException",
        "Message": "Parameter ScheduleExpression is not valid.",
    }
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name="bad-schedule")


def test_put_rule_needs_a_pattern_or_a_schedule(stack: LocalStack) -> None:
    error = _client_error(stack.client("events").put_rule, Name="nothing-to-do")

    assert error == {
        "Code": "ValidationException",
        "Message": "Parameter(s) EventPattern or ScheduleExpression must be specified.",
    }
