"""Probe verdicts through the test listener, and the scaling state to put back."""

from __future__ import annotations

import pytest
from bluegreen.domain import scaling
from bluegreen.domain.probe import CheckResult, record
from bluegreen.errors import TestTrafficUnhealthy
from bluegreen.models import ProbeProgress, Timings
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.builders import NOW

PASS = CheckResult(ok=True, status=200, detail="GET /health -> 200 in 4 ms")
FAIL = CheckResult(ok=False, status=503, detail="GET /health -> 503 in 3 ms")
TIMINGS = Timings(probe_required_passes=3, probe_max_attempts=10)


def run(checks: list[CheckResult], timings: Timings = TIMINGS) -> ProbeProgress:
    progress = ProbeProgress(started_at=NOW)
    for check in checks:
        progress = record(progress, check, timings)
    return progress


def test_healthy_after_the_required_consecutive_passes() -> None:
    assert not run([PASS, PASS]).healthy
    progress = run([PASS, PASS, PASS])

    assert progress.healthy
    assert progress.attempts == 3
    assert progress.consecutive_passes == 3
    assert progress.last_status == 200
    assert progress.last_detail == PASS.detail


def test_a_failure_starts_the_count_again() -> None:
    progress = run([PASS, PASS, FAIL, PASS, PASS])

    assert not progress.healthy
    assert progress.consecutive_passes == 2
    assert progress.last_status == 200
    assert run([PASS, PASS, FAIL, PASS, PASS, PASS]).healthy


def test_unhealthy_as_soon_as_passing_in_time_is_impossible() -> None:
    # 10 attempts, 3 passes in a row needed: after 8 failures only 2 attempts remain.
    still_possible = run([FAIL] * 7)
    assert still_possible.attempts == 7
    assert still_possible.last_status == 503

    with pytest.raises(TestTrafficUnhealthy, match=r"8 checks .* last: GET /health -> 503"):
        record(still_possible, FAIL, TIMINGS)


def test_the_last_possible_run_of_passes_still_counts() -> None:
    assert run([FAIL] * 7 + [PASS] * 3).healthy


def test_a_run_broken_too_late_is_unhealthy_before_the_budget_ends() -> None:
    with pytest.raises(TestTrafficUnhealthy):
        run([FAIL] * 6 + [PASS, PASS, FAIL])  # attempt 9: 0 passes, 1 attempt left


@given(
    required=st.integers(min_value=1, max_value=5),
    extra=st.integers(min_value=0, max_value=8),
    outcomes=st.lists(st.booleans(), max_size=20),
)
def test_a_verdict_comes_exactly_when_it_is_decided(
    required: int, extra: int, outcomes: list[bool]
) -> None:
    timings = Timings(probe_required_passes=required, probe_max_attempts=required + extra)
    budget = timings.probe_max_attempts
    progress = ProbeProgress(started_at=NOW)
    streak = 0
    for attempt, ok in enumerate(outcomes[:budget], start=1):
        streak = streak + 1 if ok else 0
        left = budget - attempt
        try:
            progress = record(progress, PASS if ok else FAIL, timings)
        except TestTrafficUnhealthy:
            assert streak + left < required, "refused while passing was still possible"
            return
        assert progress.attempts == attempt
        assert progress.healthy == (streak >= required)
        if progress.healthy:
            return
        assert streak + left >= required, "no verdict although passing had become impossible"
    if len(outcomes) >= budget:
        raise AssertionError("the attempt budget ran out without a verdict")


# --- scaling ------------------------------------------------------------------------------

FLAGS = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


def test_an_unregistered_target_has_nothing_to_restore() -> None:
    snap = scaling.snapshot("service/demo/web", None, NOW)

    assert not snap.registered
    assert snap.suspended_at == NOW


def test_a_target_without_suspended_state_was_running_freely() -> None:
    snap = scaling.snapshot("service/demo/web", {"ResourceId": "service/demo/web"}, NOW)

    assert snap.registered
    assert scaling.prior_state(snap) == dict.fromkeys(FLAGS, False)


@given(st.tuples(st.booleans(), st.booleans(), st.booleans()))
def test_the_prior_state_is_exactly_the_state_found(flags: tuple[bool, bool, bool]) -> None:
    found = dict(zip(FLAGS, flags, strict=True))
    snap = scaling.snapshot("service/demo/web", {"SuspendedState": found}, NOW)

    assert scaling.prior_state(snap) == found


def test_suspending_suspends_all_three_activities() -> None:
    assert dict.fromkeys(FLAGS, True) == scaling.ALL_SUSPENDED
