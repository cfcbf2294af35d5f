"""Reading a CodeDeploy ECS blue/green deployment: Ready, then Succeeded, or a named error."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.domain.deployment import (
    ROLLBACK_MAX_CHECKS,
    appspec,
    completion_budget_seconds,
    live,
    next_wait_seconds,
    observe,
    require_ready_wait,
    rollback_max_checks,
    traffic_shift_minutes,
    watch_rollback,
)
from bluegreen.errors import (
    ConfigurationInvalid,
    DeploymentFailed,
    DeploymentTimedOut,
    RollbackIncomplete,
)
from bluegreen.models import DeploymentProgress, RollbackResult, Timings

from tests.unit.builders import NOW, demo_service

TASK_DEFINITION = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8"
CONTINUED = NOW + timedelta(minutes=2)


def timings(max_polls: int = 10, poll_seconds: int = 15) -> Timings:
    return Timings(deployment_max_polls=max_polls, deployment_poll_seconds=poll_seconds)


def before_continue(polls: int = 0, ready: bool = False) -> DeploymentProgress:
    return DeploymentProgress(deployment_id="d-ABC", polls=polls, ready=ready, created_at=NOW)


def after_continue(polls: int = 0, budget: int | None = None) -> DeploymentProgress:
    return before_continue(ready=True).model_copy(
        update={"polls": polls, "continued_at": CONTINUED, "completion_budget_seconds": budget}
    )


def info(status: str, **extra: Any) -> dict[str, Any]:
    return {"deploymentId": "d-ABC", "status": status, **extra}


# --- before ContinueDeployment: waiting for Ready -----------------------------------------


@pytest.mark.parametrize("status", ["Created", "Queued", "InProgress"])
def test_before_ready_each_look_counts_a_poll(status: str) -> None:
    progress = observe(before_continue(polls=4), info(status), timings(), NOW)

    assert progress.status == status
    assert progress.polls == 5
    assert not progress.ready
    assert not progress.succeeded


def test_ready_means_green_is_behind_the_test_listener() -> None:
    progress = observe(before_continue(polls=2), info("Ready"), timings(), NOW)

    assert progress.ready
    assert progress.status == "Ready"
    assert not progress.succeeded


def test_ready_on_the_last_allowed_poll_is_not_a_timeout() -> None:
    assert observe(before_continue(polls=2), info("Ready"), timings(max_polls=3), NOW).ready


def test_not_ready_within_the_poll_budget_times_out() -> None:
    progress = observe(before_continue(polls=1), info("InProgress"), timings(max_polls=3), NOW)
    assert progress.polls == 2

    with pytest.raises(DeploymentTimedOut, match="is InProgress, not Ready, after 3 polls"):
        observe(progress, info("InProgress"), timings(max_polls=3), NOW)


# --- after ContinueDeployment: waiting for Succeeded --------------------------------------


@pytest.mark.parametrize("status", ["Ready", "InProgress", "Baking"])
def test_after_continue_only_succeeded_ends_the_wait(status: str) -> None:
    progress = observe(after_continue(polls=0), info(status), timings(), CONTINUED)

    assert progress.status == status
    assert progress.polls == 1
    assert progress.ready  # it was ready before; that stays known
    assert not progress.succeeded


def test_after_continue_succeeded_is_the_end() -> None:
    progress = observe(after_continue(polls=3), info("Succeeded"), timings(), CONTINUED)

    assert progress.succeeded
    assert progress.status == "Succeeded"


def test_after_continue_still_ready_at_the_end_of_the_budget_times_out() -> None:
    # Ready is what we waited for before continuing, not after: it must not end the wait.
    with pytest.raises(DeploymentTimedOut, match="is Ready, not Succeeded, after 5 polls"):
        observe(after_continue(polls=4), info("Ready"), timings(max_polls=5), CONTINUED)


def test_traffic_fully_moved_is_remembered_from_the_termination_wait_on() -> None:
    waiting = info("InProgress", instanceTerminationWaitTimeStarted=True)

    progress = observe(after_continue(), waiting, timings(), CONTINUED)

    assert progress.traffic_shifted
    assert not progress.succeeded
    later = observe(progress, info("InProgress"), timings(), CONTINUED)
    assert later.traffic_shifted


def test_a_termination_wait_longer_than_the_poll_budget_is_waited_for() -> None:
    """AWS: a blue/green deployment reports Succeeded only after the group's termination
    wait (up to 2,880 minutes) ends; the polls must outlast it, however few they are."""
    group = group_with(termination_minutes=2880)
    budget = completion_budget_seconds(group, ALL_AT_ONCE, timings(max_polls=240))
    progress = after_continue(budget=budget)
    waiting = info("InProgress", instanceTerminationWaitTimeStarted=True)

    at = CONTINUED
    for _ in range(239):
        progress = observe(progress, waiting, timings(max_polls=240), at)
        assert progress.wait_seconds is not None
        at += timedelta(seconds=progress.wait_seconds)

    assert at - CONTINUED >= timedelta(minutes=2880)
    done = observe(progress, info("Succeeded"), timings(max_polls=240), at)
    assert done.succeeded


def test_the_completion_budget_runs_out_in_time_as_well_as_in_polls() -> None:
    progress = after_continue(budget=600)
    late = CONTINUED + timedelta(seconds=600)

    with pytest.raises(DeploymentTimedOut, match="after 1 polls and 600 s of a 600 s budget"):
        observe(progress, info("InProgress"), timings(max_polls=100), late)


def test_a_budget_that_runs_out_after_traffic_moved_says_so() -> None:
    progress = after_continue(polls=9, budget=10_000).model_copy(update={"traffic_shifted": True})

    with pytest.raises(DeploymentTimedOut, match="production traffic had fully moved"):
        observe(progress, info("InProgress"), timings(max_polls=10), CONTINUED)


# --- the completion budget ----------------------------------------------------------------

ALL_AT_ONCE = {"trafficRoutingConfig": {"type": "AllAtOnce"}}


def group_with(termination_minutes: int | None = None) -> dict[str, Any]:
    blue_green: dict[str, Any] = {
        "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60}
    }
    if termination_minutes is not None:
        blue_green["terminateBlueInstancesOnDeploymentSuccess"] = {
            "action": "TERMINATE",
            "terminationWaitTimeInMinutes": termination_minutes,
        }
    return {"deploymentGroupName": "demo-web", "blueGreenDeploymentConfiguration": blue_green}


@pytest.mark.parametrize(
    ("routing", "minutes"),
    [
        ({"type": "AllAtOnce"}, 0),
        (
            {
                "type": "TimeBasedCanary",
                "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 15},
            },
            15,
        ),
        (
            {
                "type": "TimeBasedLinear",
                "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 3},
            },
            27,
        ),
        (
            {
                "type": "TimeBasedLinear",
                "timeBasedLinear": {"linearPercentage": 30, "linearInterval": 2},
            },
            6,
        ),
        ({}, 0),
    ],
    ids=["all-at-once", "canary-15", "linear-10-every-3", "linear-30-every-2", "none-shown"],
)
def test_traffic_moves_within_the_deployment_configs_steps(
    routing: dict[str, Any], minutes: int
) -> None:
    """CodeDeploy User Guide, deployment configurations: a canary moves the rest after its
    interval; a linear config moves its percentage each interval until all has moved."""
    assert traffic_shift_minutes({"trafficRoutingConfig": routing}) == minutes


def test_the_budget_adds_the_steps_the_termination_wait_and_the_poll_budget() -> None:
    canary = {
        "trafficRoutingConfig": {
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
        }
    }

    budget = completion_budget_seconds(group_with(60), canary, timings(40, 15))

    assert budget == (5 + 60) * 60 + 40 * 15


def test_a_group_without_a_termination_wait_keeps_the_poll_budget() -> None:
    assert completion_budget_seconds(group_with(None), ALL_AT_ONCE, timings(40, 15)) == 600


def test_polls_are_spread_over_the_budget_never_closer_than_the_poll_interval() -> None:
    progress = after_continue(polls=0, budget=3600)

    assert next_wait_seconds(progress, timings(max_polls=240), CONTINUED) == 15
    assert next_wait_seconds(progress, timings(max_polls=10), CONTINUED) == 360
    halfway = CONTINUED + timedelta(seconds=1800)
    assert next_wait_seconds(progress, timings(max_polls=10), halfway) == 180


# --- live: traffic fully moved and healthy ------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (info("InProgress", instanceTerminationWaitTimeStarted=True), True),
        (info("Baking"), True),
        (info("Succeeded"), True),
        (info("InProgress", instanceTerminationWaitTimeStarted=False), False),
        (info("Ready"), False),
        (info("Stopped", instanceTerminationWaitTimeStarted=True), False),
        (info("Failed", instanceTerminationWaitTimeStarted=True), False),
    ],
    ids=["termination-wait", "baking", "succeeded", "shifting", "ready", "stopped", "failed"],
)
def test_live_is_production_traffic_fully_moved_and_not_rolled_back(
    document: dict[str, Any], expected: bool
) -> None:
    assert live(document) is expected


# --- watching a rollback ------------------------------------------------------------------


def stopped(checks: int = 0) -> RollbackResult:
    return RollbackResult(
        deployment_stopped=True,
        detail="deployment d-ABC stopped with rollback",
        rolled_back_at=NOW,
        deployment_id="d-ABC",
        checks=checks,
    )


ROLLING = info("Stopped", rollbackInfo={"rollbackDeploymentId": "d-RBK"})


def rollback(status: str, **extra: Any) -> dict[str, Any]:
    return {"deploymentId": "d-RBK", "status": status, "creator": "codeDeployRollback", **extra}


def test_a_rollback_in_progress_is_not_finished() -> None:
    watched = watch_rollback(stopped(), ROLLING, rollback("InProgress"), timings(), NOW)

    assert not watched.finished
    assert (watched.rollback_deployment_id, watched.status, watched.checks) == (
        "d-RBK",
        "InProgress",
        1,
    )


def test_a_rollback_that_succeeded_means_blue_serves_again() -> None:
    watched = watch_rollback(stopped(checks=3), ROLLING, rollback("Succeeded"), timings(), NOW)

    assert watched.finished
    assert watched.finished_at == NOW
    assert not watched.release_live


def test_a_deployment_still_stopping_is_waited_for() -> None:
    watched = watch_rollback(stopped(), info("InProgress"), None, timings(), NOW)

    assert not watched.finished
    assert watched.status == "InProgress"


def test_a_deployment_stopped_without_a_rollback_deployment_is_finished() -> None:
    """Stopped before production traffic moved: CodeDeploy discards the replacement and
    creates no rollback deployment."""
    assert watch_rollback(stopped(), info("Stopped"), None, timings(), NOW).finished


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_rollback_that_failed_or_was_stopped_is_incomplete(status: str) -> None:
    failed = rollback(status, errorInformation={"code": "ECS_UPDATE_ERROR", "message": "no"})

    with pytest.raises(
        RollbackIncomplete, match=f"rollback d-RBK of deployment d-ABC ended {status}: no"
    ):
        watch_rollback(stopped(), ROLLING, failed, timings(), NOW)


def test_a_rollback_that_outlasts_its_budget_is_incomplete() -> None:
    budget = rollback_max_checks(timings(max_polls=5))
    assert budget == 5

    with pytest.raises(RollbackIncomplete, match="still InProgress after 5 checks"):
        watch_rollback(stopped(checks=4), ROLLING, rollback("InProgress"), timings(5), NOW)


def test_the_rollback_budget_never_passes_the_history_bound() -> None:
    assert rollback_max_checks(timings(max_polls=1000)) == ROLLBACK_MAX_CHECKS


def test_a_stop_that_came_after_success_leaves_a_live_release() -> None:
    watched = watch_rollback(stopped(), info("Succeeded"), None, timings(), NOW)

    assert watched.finished
    assert watched.release_live


# --- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("progress", [before_continue(), after_continue()])
@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_or_stopped_is_a_failure_with_codedeploys_reason(
    progress: DeploymentProgress, status: str
) -> None:
    reason = {"code": "HEALTH_CONSTRAINTS", "message": "The ECS service is not stable"}

    with pytest.raises(DeploymentFailed, match=f"d-ABC is {status}: The ECS service is not stable"):
        observe(progress, info(status, errorInformation=reason), timings(), CONTINUED)


def test_a_failure_without_a_message_names_the_code_or_says_so() -> None:
    stopped_for = info("Stopped", errorInformation={"code": "TIMEOUT"})
    with pytest.raises(DeploymentFailed, match="TIMEOUT"):
        observe(before_continue(), stopped_for, timings(), NOW)
    with pytest.raises(DeploymentFailed, match="no reason given"):
        observe(before_continue(), info("Failed"), timings(), NOW)


def test_a_failure_is_reported_even_on_the_last_poll() -> None:
    with pytest.raises(DeploymentFailed):
        observe(before_continue(polls=9), info("Failed"), timings(max_polls=10), NOW)


# --- what is submitted --------------------------------------------------------------------


def test_the_appspec_points_codedeploy_at_the_new_revision_and_the_container() -> None:
    content, sha256 = appspec(demo_service(), TASK_DEFINITION)

    document = json.loads(content)
    assert document["version"] == 0.0
    (resource,) = document["Resources"]
    target = resource["TargetService"]
    assert target["Type"] == "AWS::ECS::Service"
    assert target["Properties"] == {
        "TaskDefinition": TASK_DEFINITION,
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
    }
    assert sha256 == hashlib.sha256(content.encode()).hexdigest()
    assert appspec(demo_service(), TASK_DEFINITION) == (content, sha256)


def group(ready_option: dict[str, Any] | None) -> dict[str, Any]:
    blue_green = {} if ready_option is None else {"deploymentReadyOption": ready_option}
    return {"deploymentGroupName": "demo-web", "blueGreenDeploymentConfiguration": blue_green}


@pytest.mark.parametrize(
    "candidate",
    [
        group({"actionOnTimeout": "CONTINUE_DEPLOYMENT"}),
        group({}),
        group(None),
        {"deploymentGroupName": "demo-web"},
        {"deploymentGroupName": "demo-web", "blueGreenDeploymentConfiguration": None},
    ],
)
def test_a_group_that_would_shift_traffic_untested_is_a_configuration_error(
    candidate: dict[str, Any],
) -> None:
    with pytest.raises(ConfigurationInvalid, match="STOP_DEPLOYMENT"):
        require_ready_wait(candidate)
