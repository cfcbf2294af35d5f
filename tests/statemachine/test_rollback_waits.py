"""A rollback gives the service back only once blue serves again, or says it could not.

CodeDeploy rolls an ECS blue/green deployment back with a deployment of its own (creator
``codeDeployRollback``, named in the original's ``rollbackInfo``), which reroutes traffic to
the original task set and then terminates the replacement. The local CodeDeploy here takes
``ROLLBACK_SECONDS`` to do so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from bluegreen_cli.local.codedeploy import Timing
from bluegreen_cli.local.server import LocalStack
from conftest import Run, SampleService, set_health

ROLLBACK_SECONDS = 8.0
ENDED = ("Succeeded", "Failed", "Stopped")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    timing = Timing(rollback_seconds=ROLLBACK_SECONDS)
    with LocalStack(port=0, sample=True, codedeploy_timing=timing) as running:
        yield running


def unhealthy_release(
    start: Any, stack: LocalStack, sample_service: SampleService, max_polls: int = 120
) -> Run:
    """A deployment whose new version fails its checks on the test listener: rolled back."""
    set_health(stack, False)
    timings = {"deployment_poll_seconds": 1, "deployment_max_polls": max_polls}
    run = start(sample_service(timings={**timings, "probe_max_attempts": 2}))
    run.wait_for_state("RequestApproval")
    assert run.decide("approve") == 200
    return run


def deployments(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """The deployment the execution created, and CodeDeploy's rollback of it."""
    codedeploy = run.stack.client("codedeploy")
    listed = codedeploy.list_deployments(applicationName="demo-web", deploymentGroupName="demo-web")
    found = [
        codedeploy.get_deployment(deploymentId=d)["deploymentInfo"] for d in listed["deployments"]
    ]
    (ours,) = [d for d in found if d.get("description") == f"bluegreen {run.state.execution_name}"]
    rollback_id = ours["rollbackInfo"]["rollbackDeploymentId"]
    (rollback,) = [d for d in found if d["deploymentId"] == rollback_id]
    return ours, rollback


def entered_at(run: Run, state: str) -> datetime:
    for event in run.history():
        details = event.get("stateEnteredEventDetails")
        if details and details["name"] == state:
            return event["timestamp"]  # type: ignore[no-any-return]
    raise AssertionError(f"{state} was not entered")


def wait_until_ended(run: Run, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (rollback := deployments(run)[1])["status"] not in ENDED:
        assert time.monotonic() < deadline, f"the rollback is still {rollback['status']}"
        time.sleep(0.3)
    return rollback


def test_a_rollback_releases_the_service_only_after_blue_serves_again(
    start, stack, service_view, sample_service
):
    before = service_view()

    run = unhealthy_release(start, stack, sample_service)
    execution = run.finish()

    assert execution["status"] == "FAILED"
    assert execution["error"] == "TestTrafficUnhealthy"
    ours, rollback = deployments(run)
    assert ours["status"] == "Stopped"
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["status"] == "Succeeded"
    # Scaling resumed (and the lock was released) once the rollback had ended, not before.
    assert entered_at(run, "ResumeAfterRollback") >= rollback["completeTime"]
    assert "WaitForRollback" in run.entered()
    assert run.entered()[-1] == "RolledBack"
    assert service_view() == before


def test_a_rollback_stopped_midway_restores_scaling_and_needs_attention(
    start, stack, service_view, sample_service
):
    before = service_view()
    run = unhealthy_release(start, stack, sample_service)
    run.wait_for_state("WaitForRollback")
    _, rollback = deployments(run)

    # An operator stops CodeDeploy's rollback: it ends Stopped, not Succeeded.
    stack.client("codedeploy").stop_deployment(deploymentId=rollback["deploymentId"])
    execution = run.finish()

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RollbackIncomplete"
    assert f"rollback {rollback['deploymentId']} of deployment" in execution["cause"]
    assert "ended Stopped" in execution["cause"]
    entered = run.entered()
    assert "ResumeAfterRollback" in entered
    assert "NotifyRolledBack" not in entered
    assert entered[-1] == "NeedsAttention"
    assert service_view() == before


def test_a_rollback_that_outlasts_its_budget_restores_scaling_and_needs_attention(
    start, stack, service_view, sample_service
):
    before = service_view()
    # Four looks a second apart: the rollback takes longer.
    run = unhealthy_release(start, stack, sample_service, max_polls=4)

    execution = run.finish()

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RollbackIncomplete"
    assert "still InProgress after 4 checks" in execution["cause"]
    assert run.entered()[-1] == "NeedsAttention"
    assert service_view() == before
    assert wait_until_ended(run)["status"] == "Succeeded"  # CodeDeploy finishes it anyway
