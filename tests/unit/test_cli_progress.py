"""What `--follow` says while a deployment runs, read from the execution's own records.

The records are shaped as Step Functions gives them (GetExecutionHistory's events, the
execution document): the counters come from the same facts `show` reads.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bluegreen_cli.account import ExecutionDetail, ExecutionSummary
from bluegreen_cli.commands.ops import _print_detail
from bluegreen_cli.follow import ProgressView, console_link, ending, phases
from bluegreen_cli.progress import Progress, coarse, fine, progress
from bluegreen_cli.reading import decision_of, probe_count, rejection
from rich.console import Console

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class History:
    """Events as GetExecutionHistory lists them, ids in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _add(self, at: datetime, kind: str, **details: Any) -> None:
        event = {"id": len(self.events) + 1, "timestamp": at, "type": kind, **details}
        self.events.append(event)

    def enter(self, state: str, at: datetime, kind: str = "TaskStateEntered") -> History:
        self._add(at, kind, stateEnteredEventDetails={"name": state, "input": "{}"})
        return self

    def submitted(self, payload: dict[str, Any], at: datetime) -> History:
        output = json.dumps({"StatusCode": 200, "Payload": payload})
        self._add(at, "TaskSubmitted", taskSubmittedEventDetails={"output": output})
        return self

    def failed(self, error: str, cause: str, at: datetime) -> History:
        self._add(at, "TaskFailed", taskFailedEventDetails={"error": error, "cause": cause})
        return self


def document(**sections: Any) -> dict[str, Any]:
    timings = {
        "approval_timeout_seconds": 86400,
        "deployment_max_polls": 240,
        "probe_required_passes": 3,
        "probe_max_attempts": 30,
    }
    return {
        "execution_name": "demo-web-0123456789ab",
        "service": {"name": "demo-web", "environment": "production", "timings": timings},
        **sections,
    }


def test_approval_says_whom_it_waits_for_and_how_much_of_its_timeout_has_passed() -> None:
    history = (
        History()
        .enter("RequestApproval", T0)
        .submitted({"emailed": ["a@example.com", "b@example.com"], "slack": True}, T0)
    )

    now = progress(
        "RequestApproval", document(), history.events, T0 + timedelta(hours=3, minutes=4), coarse
    )

    assert now == Progress(
        "wait for approval", "waiting for a@example.com, b@example.com, Slack: 3 h of 24 h"
    )


def test_waiting_for_the_service_names_the_deployment_ahead() -> None:
    history = (
        History()
        .enter("TakeTurn", T0)
        .submitted({"acquired": False, "behind": "demo-web-ffeeddccbbaa"}, T0)
    )

    now = progress("TakeTurn", document(), history.events, T0 + timedelta(seconds=75), fine)

    assert now == Progress(
        "wait for the service", "waiting behind demo-web-ffeeddccbbaa for 1 min 15 s"
    )


@pytest.mark.parametrize("state", ["ProbeTestListener", "IsVerified", "WaitBeforeProbe"])
def test_the_probe_counts_passes_and_checks(state: str) -> None:
    doc = document(probe={"attempts": 4, "consecutive_passes": 2, "healthy": False})

    now = progress(state, doc, History().enter(state, T0).events, T0)

    assert now == Progress("verify on test listener", "probe 2/3 passed (check 4 of at most 30)")


@pytest.mark.parametrize(
    ("traffic", "said"),
    [
        (10.0, "traffic 10% → 100% on the new version"),
        (100.0, "traffic 100% on the new version; CodeDeploy finishing (blue is terminated "
         "after the group's wait)"),
        (None, "CodeDeploy moves production traffic to the new version"),
    ],
)  # fmt: skip
def test_traffic_says_the_share_codedeploy_moved(traffic: float | None, said: str) -> None:
    doc = document(deployment={"deployment_id": "d-ABCDEFGHI", "status": "InProgress"})

    now = progress(
        "CheckCompletion", doc, History().enter("CheckCompletion", T0).events, T0, fine, traffic
    )

    assert now == Progress("shift production traffic", said)


ROLLOUT = {
    "deployment_id": "ecs-svc/1234567890",
    "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8",
    "previous_task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    "rollout_state": "IN_PROGRESS",
    "desired_count": 1,
    "running_count": 1,
    "polls": 2,
}


@pytest.mark.parametrize("state", ["WaitForRollout", "CheckRollout", "IsRolledOut"])
def test_a_rolling_deployment_says_how_many_of_its_tasks_run(state: str) -> None:
    history = History().enter("StartRollout", T0).enter(state, T0 + timedelta(seconds=3))

    now = progress(state, document(rollout=ROLLOUT), history.events, T0 + timedelta(seconds=5))

    assert now == Progress(
        "roll out",
        "1 of 1 tasks running, ECS deployment ecs-svc/1234567890 IN_PROGRESS (poll 2 of 240, 5 s)",
    )


def test_a_rolling_deployment_rolled_back_by_ecs_says_so_since_the_rollback_began() -> None:
    rollback = {
        "by": "ecs",
        "detail": "ECS's deployment circuit breaker rolled the service back to web:7",
        "started_at": T0.isoformat(),
        "task_definition": "web:7",
        "rollout_state": "IN_PROGRESS",
        "checks": 2,
    }
    doc = document(rollout={**ROLLOUT, "rollout_state": "FAILED", "rollback": rollback})
    history = History().enter("RollBackRollout", T0 + timedelta(seconds=8))

    now = progress("RollBackRollout", doc, history.events, T0 + timedelta(seconds=9))

    assert now == Progress(
        "roll back",
        "ECS's circuit breaker rolls the service back to web:7: IN_PROGRESS (check 2, 9 s)",
    )


def test_a_rolling_deployments_phases_are_its_own() -> None:
    history = (
        History()
        .enter("RenderTaskDefinition", T0)
        .enter("TakeTurn", T0 + timedelta(seconds=1))
        .enter("ByMethod", T0 + timedelta(seconds=2), "ChoiceStateEntered")
        .enter("StartRollout", T0 + timedelta(seconds=2))
        .enter("CheckRollout", T0 + timedelta(seconds=4))
        .enter("ReleaseRollout", T0 + timedelta(seconds=9))
        .enter("NotifyDeployed", T0 + timedelta(seconds=10))
    )

    spent = phases(history.events, T0 + timedelta(seconds=11))

    assert [(p.label, p.seconds) for p in spent] == [
        ("render task definition", 2.0),
        ("roll out", 7.0),
        ("release the service", 1.0),
        ("notify", 1.0),
    ]


def test_an_end_state_has_no_progress_left() -> None:
    assert progress("Deployed", document(), [], T0) is None
    assert progress(None, None, [], T0) is None


def test_a_log_steps_through_long_waits_coarsely_a_terminal_finely() -> None:
    assert [coarse(s) for s in (0, 299, 300, 3599, 3600, 86399)] == [
        "under 5 min", "under 5 min", "5 min", "55 min", "1 h", "23 h",
    ]  # fmt: skip
    assert [fine(s) for s in (5, 192, 11040)] == ["5 s", "3 min 12 s", "3 h 04 min"]


# -- counted once ----------------------------------------------------------------------------


def test_the_check_that_failed_the_deployment_is_counted_with_the_documents() -> None:
    """The probe document holds the checks that passed on; the one that ended it is in the
    error, as the error's own count says."""
    cause = json.dumps(
        {
            "errorMessage": "8 checks through the test listener, last: GET http://t/health "
            "-> 503 in 3 ms; needed 3 passes in a row",
            "errorType": "TestTrafficUnhealthy",
        }
    )
    doc = document(
        probe={"attempts": 7, "consecutive_passes": 0, "last_detail": "GET -> 503"},
        error={"Error": "TestTrafficUnhealthy", "Cause": cause},
    )

    counted = probe_count(doc)

    assert counted is not None
    assert (counted.checks, counted.passes_in_a_row, counted.ended_unhealthy) == (8, 0, True)
    assert counted.last == "GET http://t/health -> 503 in 3 ms"


def test_a_rejection_says_who_and_why_when_a_reason_was_given() -> None:
    plain = rejection("ApprovalRejected", "rejected by a@example.com")
    reasoned = rejection("ApprovalRejected", "rejected by a@example.com: breaks checkout")

    assert plain is not None
    assert (plain.by, plain.reason) == ("a@example.com", None)
    assert reasoned is not None
    assert (reasoned.by, reasoned.reason) == ("a@example.com", "breaks checkout")
    assert reasoned.words() == "rejected by a@example.com: breaks checkout"
    assert rejection("TestTrafficUnhealthy", "rejected by nobody") is None


def test_the_decision_is_read_from_the_approval_task() -> None:
    at = T0 + timedelta(minutes=2)
    rejected = (
        History()
        .enter("RequestApproval", T0)
        .failed("ApprovalRejected", "rejected by a@example.com", at)
        .enter("NotifyNotDeployed", at)
    )
    timed_out = History().enter("RequestApproval", T0).failed("States.Timeout", "", at)
    approved = document(approval={"approver": "b@example.com", "decided_at": at.isoformat()})

    decided = decision_of(document(), rejected.events)
    expired = decision_of(document(), timed_out.events)
    yes = decision_of(approved, [])

    assert decided is not None
    assert (decided.decision, decided.by, decided.at) == ("rejected", "a@example.com", at)
    assert expired is not None
    assert expired.decision == "timed_out"
    assert yes is not None
    assert (yes.decision, yes.by, yes.at) == ("approved", "b@example.com", at)


# -- how it is shown -------------------------------------------------------------------------


def test_piped_progress_is_a_line_per_change_never_the_same_line_twice() -> None:
    out = io.StringIO()
    view = ProgressView(Console(file=out, force_terminal=False, width=200), T0)
    probe = Progress("verify on test listener", "probe 1/3 passed (check 1 of at most 30)")

    view.show(probe, T0 + timedelta(seconds=1))
    view.show(probe, T0 + timedelta(seconds=2))
    view.show(None, T0 + timedelta(seconds=3))
    view.show(Progress("shift production traffic", "traffic 10% → 100% on the new version"),
              T0 + timedelta(seconds=4))  # fmt: skip
    view.close(T0 + timedelta(seconds=5))

    assert out.getvalue().splitlines() == [
        "    1.0s  verify on test listener: probe 1/3 passed (check 1 of at most 30)",
        "    4.0s  shift production traffic: traffic 10% → 100% on the new version",
    ]


def test_in_a_terminal_one_line_updates_and_each_phase_is_left_behind_once() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    view = ProgressView(console, T0)
    for check in (1, 2, 3):
        view.show(
            Progress("verify on test listener", f"probe {check}/3 passed"),
            T0 + timedelta(seconds=check),
        )
    view.show(Progress("shift production traffic", "traffic 10% → 100%"), T0 + timedelta(seconds=4))
    view.close(T0 + timedelta(seconds=5))

    written = out.getvalue()
    assert "\r" in written or "\x1b[" in written  # drawn in place
    assert written.count("verify on test listener: probe 3/3 passed\n") == 1
    assert written.count("verify on test listener: probe 1/3 passed\n") == 0
    assert "shift production traffic: traffic 10% → 100%\n" in written


def test_the_outcome_names_the_end_state_and_why() -> None:
    history = History().enter("NotifyRolledBack", T0).enter("RolledBack", T0, "FailStateEntered")
    described = {"status": "FAILED", "error": "TestTrafficUnhealthy", "cause": "8 checks"}

    assert ending(described, history.events) == "rolled back (TestTrafficUnhealthy: 8 checks)"
    assert ending({"status": "ABORTED"}, []) == "stopped"


def test_the_console_link_is_the_executions_page_in_its_partitions_console() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:execution:bluegreen-deploy:demo-web-0123"
    china = "arn:aws-cn:states:cn-north-1:123456789012:execution:bluegreen-deploy:x"

    assert console_link(arn) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        f"#/v2/executions/details/{arn}"
    )
    assert console_link(china).startswith("https://cn-north-1.console.amazonaws.cn/states/")


def test_show_says_whom_a_waiting_execution_waits_behind() -> None:
    history = (
        History()
        .enter("TakeTurn", T0)
        .submitted({"acquired": False, "behind": "demo-web-ffeeddccbbaa"}, T0)
    )
    summary = ExecutionSummary(
        name="demo-web-0123456789ab",
        arn="arn:aws:states:us-east-1:123456789012:execution:bluegreen-deploy:demo-web-0123",
        status="RUNNING",
        service="demo-web",
        tag="3f2a9c1",
        started=T0,
        stopped=None,
        duration_seconds=60.0,
        state="TakeTurn",
    )

    shown = ExecutionDetail(summary, document(), [], history.events).to_json()

    assert shown["waiting_behind"] == "demo-web-ffeeddccbbaa"
    assert shown["environment"] == "production"
    assert shown["decision"] is None
    # what --json said before is all still there
    assert {"name", "status", "state", "document", "phases", "retry_of"} <= set(shown)


def test_show_says_what_ecs_did_with_a_rolling_deployment() -> None:
    rollback = {
        "by": "ecs",
        "detail": "ECS's deployment circuit breaker rolled the service back to web:7",
        "started_at": T0.isoformat(),
        "finished": True,
    }
    failed = {
        **ROLLOUT,
        "rollout_state": "FAILED",
        "running_count": 0,
        "failed_tasks": 3,
        "rollback": rollback,
    }
    summary = ExecutionSummary(
        name="demo-web-0123456789ab",
        arn="arn:aws:states:us-east-1:123456789012:execution:bluegreen-deploy:demo-web-0123",
        status="FAILED",
        service="demo-web",
        tag="3f2a9c1",
        started=T0,
        stopped=T0 + timedelta(seconds=30),
        duration_seconds=30.0,
        state="RolledBack",
    )
    out = io.StringIO()

    _print_detail(
        Console(file=out, width=200), ExecutionDetail(summary, document(rollout=failed), [], [])
    )

    (row,) = [
        line.split(None, 1)[1]
        for line in out.getvalue().splitlines()
        if line.startswith("rollout ")
    ]
    assert row.strip() == (
        "ECS deployment ecs-svc/1234567890 FAILED: 0 of 1 tasks running, 3 failed to start; "
        "ECS's deployment circuit breaker rolled the service back to web:7 (done)"
    )


def test_after_a_success_it_says_the_image_is_being_promoted() -> None:
    history = History().enter("NotifyDeployed", T0).enter("Promote", T0 + timedelta(seconds=1))

    said = progress("Promote", document(), history.events, T0 + timedelta(seconds=2))

    assert said is not None
    assert said.phase == "promote"
    assert "promoting it to the next environment" in said.text
