"""Nothing stays locked: a deployment stopped midway with its cleanup event lost is recovered
by the janitor's scheduled sweep, on `bluegreen local serve --sample`, with boto3 and HTTP."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.e2e.support import (
    approval_link,
    approve,
    aws,
    executions_for,
    finished,
    http,
    invocations,
    push,
    wait,
)

pytestmark = pytest.mark.e2e

STATUS_CHANGE_RULE = "bluegreen-JanitorFunctionExecutionEndedWithoutCleanup"
SWEEP_RULE = "bluegreen-JanitorFunctionSweepLocks"
ALL_SUSPENDED = {
    "DynamicScalingInSuspended": True,
    "DynamicScalingOutSuspended": True,
    "ScheduledScalingSuspended": True,
}


def scalable_target(endpoint: str) -> dict[str, Any]:
    found = aws(endpoint, "application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=["service/demo/web"]
    )["ScalableTargets"][0]
    return {
        "SuspendedState": found["SuspendedState"],
        "MinCapacity": found["MinCapacity"],
        "MaxCapacity": found["MaxCapacity"],
    }


def lock_owner(endpoint: str) -> str | None:
    ddb = aws(endpoint, "dynamodb")
    table = next(name for name in ddb.list_tables()["TableNames"] if "StateTable" in name)
    item = ddb.get_item(
        TableName=table,
        Key={"pk": {"S": "LOCK#demo/web"}, "sk": {"S": "LOCK"}},
        ConsistentRead=True,
    ).get("Item")
    return item["owner"]["S"] if item and "owner" in item else None


def sweep(endpoint: str) -> None:
    """Fire the janitor's schedule now, and wait until the janitor has handled it."""
    handled = invocations(endpoint, "JanitorFunction")
    status, body = http(f"{endpoint}/_local/rules/{SWEEP_RULE}/fire", form={})  # a POST
    assert status == 200, body
    assert json.loads(body)["event"]["detail-type"] == "Scheduled Event"
    wait(lambda: invocations(endpoint, "JanitorFunction") > handled, 60, "the janitor's sweep")


def test_a_stop_midway_with_the_cleanup_event_lost_is_recovered_by_the_sweep(
    endpoint: str,
) -> None:
    before = scalable_target(endpoint)
    assert before["SuspendedState"] != ALL_SUSPENDED
    tag = secrets.token_hex(20)
    push(endpoint, tag)
    assert approve(wait(lambda: approval_link(endpoint, tag), 60, "the approval email")) == 200
    (execution,) = executions_for(endpoint, tag)
    wait(
        lambda: (
            lock_owner(endpoint) == execution["name"]
            and scalable_target(endpoint)["SuspendedState"] == ALL_SUSPENDED
        ),
        60,
        "scaling suspended under the execution's lock",
    )

    # A sweep while the deployment runs leaves its lock alone.
    sweep(endpoint)
    assert lock_owner(endpoint) == execution["name"]
    assert scalable_target(endpoint)["SuspendedState"] == ALL_SUSPENDED

    # Stopped midway, and its status-change event never reaches the janitor.
    events = aws(endpoint, "events")
    events.disable_rule(Name=STATUS_CHANGE_RULE)
    aws(endpoint, "stepfunctions").stop_execution(
        executionArn=execution["executionArn"], error="Operator", cause="stopped midway"
    )
    assert finished(endpoint, execution["executionArn"])["status"] == "ABORTED"
    assert lock_owner(endpoint) == execution["name"]

    # Each sweep recovers what it can; one may wait for CodeDeploy's rollback to end.
    def recovered() -> bool:
        sweep(endpoint)
        return lock_owner(endpoint) is None

    wait(recovered, 120, "the sweep to recover the lock")
    assert scalable_target(endpoint) == before

    # Nothing stays locked: with the rule back, the next push deploys, scaling exact again.
    events.enable_rule(Name=STATUS_CHANGE_RULE)
    again = secrets.token_hex(20)
    push(endpoint, again)
    assert approve(wait(lambda: approval_link(endpoint, again), 60, "the approval email")) == 200
    (next_execution,) = executions_for(endpoint, again)
    assert finished(endpoint, next_execution["executionArn"])["status"] == "SUCCEEDED"
    assert lock_owner(endpoint) is None
    assert scalable_target(endpoint) == before
