"""`retry` and `recover` as operators run them: the CLI as a subprocess against
`bluegreen local serve --sample`."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.e2e.cli_support import bluegreen
from tests.e2e.support import (
    approve,
    aws,
    decision_form,
    executions_for,
    finished,
    http,
    outbox,
    push,
    wait,
)
from tests.e2e.test_sweep import ALL_SUSPENDED, STATUS_CHANGE_RULE, lock_owner, scalable_target

pytestmark = pytest.mark.e2e


def latest_link(endpoint: str, tag: str) -> str | None:
    """The newest approval link emailed for ``tag`` (a retry asks again)."""
    mails = [m for m in outbox(endpoint) if m["channel"] == "email" and tag in m["subject"]]
    links = [link for m in mails for link in m["links"] if "/approvals/" in link]
    return links[-1] if links else None


def test_a_rejected_deployment_is_retried_as_a_visible_retry_and_deploys(endpoint: str) -> None:
    tag = secrets.token_hex(20)
    push(endpoint, tag)
    first = wait(lambda: latest_link(endpoint, tag), 60, "the approval email")
    status, page = http(first)
    assert status == 200
    target, nonce = decision_form(page, first)
    assert http(target, {"nonce": nonce, "decision": "reject"})[0] == 200
    (rejected,) = executions_for(endpoint, tag)
    assert finished(endpoint, rejected["executionArn"], timeout=60)["error"] == "ApprovalRejected"

    done = bluegreen(endpoint, "retry", rejected["name"], "--json")

    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)
    assert started["execution_name"] == f"{rejected['name']}-retry2"
    again = wait(lambda: (link := latest_link(endpoint, tag)) != first and link, 60, "a new ask")
    assert approve(again) == 200
    retry = next(e for e in executions_for(endpoint, tag) if e["name"].endswith("-retry2"))
    assert finished(endpoint, retry["executionArn"])["status"] == "SUCCEEDED"
    shown = bluegreen(endpoint, "show", retry["name"], "--json")
    assert shown.returncode == 0, shown.stderr
    assert rejected["name"] in shown.stdout  # a retry of it, and it says so


def test_recover_frees_a_lock_left_by_a_stopped_execution(endpoint: str) -> None:
    events = aws(endpoint, "events")
    before = scalable_target(endpoint)
    tag = secrets.token_hex(20)
    push(endpoint, tag)
    assert approve(wait(lambda: latest_link(endpoint, tag), 60, "the approval email")) == 200
    (execution,) = executions_for(endpoint, tag)
    wait(
        lambda: (
            lock_owner(endpoint) == execution["name"]
            and scalable_target(endpoint)["SuspendedState"] == ALL_SUSPENDED
        ),
        60,
        "scaling suspended under the execution's lock",
    )
    events.disable_rule(Name=STATUS_CHANGE_RULE)  # its cleanup event is lost
    try:
        aws(endpoint, "stepfunctions").stop_execution(executionArn=execution["executionArn"])
        assert finished(endpoint, execution["executionArn"], timeout=30)["status"] == "ABORTED"
        assert lock_owner(endpoint) == execution["name"]

        # CodeDeploy rolls back what it left first: until that ends, recover says it waits
        # (exit 1, "run it again"), as an operator would see and do.
        done = wait(
            lambda: (
                (run := bluegreen(endpoint, "recover", "demo-web", "--yes", "--json")).returncode
                == 0
                and run
            ),
            90,
            "recover to free the lock",
        )
    finally:
        events.enable_rule(Name=STATUS_CHANGE_RULE)

    assert json.loads(done.stdout)["report"]["outcome"] == "recovered"
    assert lock_owner(endpoint) is None
    assert scalable_target(endpoint) == before
