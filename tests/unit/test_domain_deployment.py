"""Reading a CodeDeploy ECS blue/green deployment: Ready, then Succeeded, or a named error."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.domain.deployment import appspec, observe, require_ready_wait
from bluegreen.errors import ConfigurationInvalid, DeploymentFailed, DeploymentTimedOut
from bluegreen.models import DeploymentProgress

from tests.unit.builders import NOW, demo_service

TASK_DEFINITION = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8"


def before_continue(polls: int = 0, ready: bool = False) -> DeploymentProgress:
    return DeploymentProgress(deployment_id="d-ABC", polls=polls, ready=ready, created_at=NOW)


def after_continue(polls: int = 0) -> DeploymentProgress:
    return before_continue(ready=True).model_copy(
        update={"polls": polls, "continued_at": NOW + timedelta(minutes=2)}
    )


def info(status: str, **extra: Any) -> dict[str, Any]:
    return {"deploymentId": "d-ABC", "status": status, **extra}


# --- before ContinueDeployment: waiting for Ready -----------------------------------------


@pytest.mark.parametrize("status", ["Created", "Queued", "InProgress"])
def test_before_ready_each_look_counts_a_poll(status: str) -> None:
    progress = observe(before_continue(polls=4), info(status), max_polls=10)

    assert progress.status == status
    assert progress.polls == 5
    assert not progress.ready
    assert not progress.succeeded


def test_ready_means_green_is_behind_the_test_listener() -> None:
    progress = observe(before_continue(polls=2), info("Ready"), max_polls=10)

    assert progress.ready
    assert progress.status == "Ready"
    assert not progress.succeeded


def test_ready_on_the_last_allowed_poll_is_not_a_timeout() -> None:
    assert observe(before_continue(polls=2), info("Ready"), max_polls=3).ready


def test_not_ready_within_the_poll_budget_times_out() -> None:
    progress = observe(before_continue(polls=1), info("InProgress"), max_polls=3)
    assert progress.polls == 2

    with pytest.raises(DeploymentTimedOut, match="is InProgress, not Ready, after 3 polls"):
        observe(progress, info("InProgress"), max_polls=3)


# --- after ContinueDeployment: waiting for Succeeded --------------------------------------


@pytest.mark.parametrize("status", ["Ready", "InProgress", "Baking"])
def test_after_continue_only_succeeded_ends_the_wait(status: str) -> None:
    progress = observe(after_continue(polls=0), info(status), max_polls=10)

    assert progress.status == status
    assert progress.polls == 1
    assert progress.ready  # it was ready before; that stays known
    assert not progress.succeeded


def test_after_continue_succeeded_is_the_end() -> None:
    progress = observe(after_continue(polls=3), info("Succeeded"), max_polls=10)

    assert progress.succeeded
    assert progress.status == "Succeeded"


def test_after_continue_still_ready_at_the_end_of_the_budget_times_out() -> None:
    # Ready is what we waited for before continuing, not after: it must not end the wait.
    with pytest.raises(DeploymentTimedOut, match="is Ready, not Succeeded, after 5 polls"):
        observe(after_continue(polls=4), info("Ready"), max_polls=5)


# --- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("progress", [before_continue(), after_continue()])
@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_or_stopped_is_a_failure_with_codedeploys_reason(
    progress: DeploymentProgress, status: str
) -> None:
    reason = {"code": "HEALTH_CONSTRAINTS", "message": "The ECS service is not stable"}

    with pytest.raises(DeploymentFailed, match=f"d-ABC is {status}: The ECS service is not stable"):
        observe(progress, info(status, errorInformation=reason), max_polls=10)


def test_a_failure_without_a_message_names_the_code_or_says_so() -> None:
    with pytest.raises(DeploymentFailed, match="TIMEOUT"):
        observe(before_continue(), info("Stopped", errorInformation={"code": "TIMEOUT"}), 10)
    with pytest.raises(DeploymentFailed, match="no reason given"):
        observe(before_continue(), info("Failed"), 10)


def test_a_failure_is_reported_even_on_the_last_poll() -> None:
    with pytest.raises(DeploymentFailed):
        observe(before_continue(polls=9), info("Failed"), max_polls=10)


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
