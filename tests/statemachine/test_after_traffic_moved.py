"""Once production traffic has moved, no failure of ours rolls the release back.

The stack runs a copy of the project whose CheckDeployment suffers injected faults once
CodeDeploy reports the deployment in its termination wait (``faulty_check_deployment.py``),
and a deployment group like the sample's whose termination wait lasts a minute. The local
CodeDeploy counts its minutes in ``SECONDS_PER_MINUTE`` seconds; the flow derives its budget
from the minutes as CodeDeploy documents them.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bluegreen_cli.local.codedeploy import Timing
from bluegreen_cli.local.server import LocalStack
from conftest import Run, SampleService

from tests.project_copy import copy_project

SECONDS_PER_MINUTE = 20.0
WAITING_GROUP = "demo-web-waits"  # the sample's group, with a one minute termination wait
CHECK_TIMEOUT = 3  # CheckDeploymentFunction's Timeout in the copy, seconds


def project_with_faulty_check(root: Path) -> Path:
    marker = "      CodeUri: functions/check_deployment/\n"
    copy_project(root, marker, f"{marker}      Timeout: {CHECK_TIMEOUT}\n")
    shutil.copy(
        Path(__file__).with_name("faulty_check_deployment.py"),
        root / "functions" / "check_deployment" / "app.py",
    )
    return root


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults") / "faults.json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, faults: Path) -> Iterator[LocalStack]:
    faults.write_text(json.dumps({"faults": [], "suffered": []}))
    project = project_with_faulty_check(tmp_path_factory.mktemp("project"))
    with LocalStack(
        port=0,
        sample=True,
        project_root=project,
        function_environment={"BLUEGREEN_TEST_FAULTS": str(faults)},
        codedeploy_timing=Timing(seconds_per_minute=SECONDS_PER_MINUTE),
    ) as running:
        add_waiting_group(running)
        yield running


def add_waiting_group(stack: LocalStack) -> None:
    codedeploy = stack.client("codedeploy")
    sample = codedeploy.get_deployment_group(
        applicationName="demo-web", deploymentGroupName="demo-web"
    )["deploymentGroupInfo"]
    blue_green = dict(sample["blueGreenDeploymentConfiguration"])
    blue_green["terminateBlueInstancesOnDeploymentSuccess"] = {
        "action": "TERMINATE",
        "terminationWaitTimeInMinutes": 1,
    }
    codedeploy.create_deployment_group(
        applicationName="demo-web",
        deploymentGroupName=WAITING_GROUP,
        serviceRoleArn=sample["serviceRoleArn"],
        deploymentConfigName=sample["deploymentConfigName"],
        deploymentStyle=sample["deploymentStyle"],
        blueGreenDeploymentConfiguration=blue_green,
        autoRollbackConfiguration=sample["autoRollbackConfiguration"],
        ecsServices=sample["ecsServices"],
        loadBalancerInfo=sample["loadBalancerInfo"],
    )


@pytest.fixture
def inject(faults: Path) -> Iterator[Any]:
    """Faults for the next CheckDeployment invocations after traffic moved; what was suffered."""

    def _inject(*planned: str) -> None:
        faults.write_text(json.dumps({"faults": list(planned), "suffered": []}))

    yield _inject
    faults.write_text(json.dumps({"faults": [], "suffered": []}))


def suffered(faults: Path) -> list[str]:
    return list(json.loads(faults.read_text())["suffered"])


def waiting_service(sample_service: SampleService, max_polls: int) -> Any:
    return sample_service(
        deployment_group=WAITING_GROUP,
        timings={"deployment_poll_seconds": 1, "deployment_max_polls": max_polls},
    )


def deployment_of(run: Run) -> dict[str, Any]:
    for event in reversed(run.history()):
        details = event.get("stateExitedEventDetails", {})
        if details.get("name") == "CreateDeployment":
            deployment_id = json.loads(details["output"])["deployment"]["deployment_id"]
            found = run.stack.client("codedeploy").get_deployment(deploymentId=deployment_id)
            return dict(found["deploymentInfo"])
    raise AssertionError("no deployment was created")


def ended(run: Run, timeout: float = 60) -> dict[str, Any]:
    """The CodeDeploy deployment once it has ended (the flow may end before it does)."""
    deadline = time.monotonic() + timeout
    while (info := deployment_of(run))["status"] not in ("Succeeded", "Failed", "Stopped"):
        assert time.monotonic() < deadline, f"deployment still {info['status']}"
        time.sleep(0.5)
    return info


def failed_attempts(run: Run, state: str) -> list[str]:
    """The error of each failed attempt of ``state`` (a Task: TaskFailed or TaskTimedOut)."""
    errors, current = [], None
    for event in run.history():
        if "stateEnteredEventDetails" in event:
            current = event["stateEnteredEventDetails"]["name"]
        details = event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails")
        if details and current == state:
            errors.append(str(details.get("error")))
    return errors


def production_image(stack: LocalStack) -> str:
    """The image production traffic reaches, asked of the sample's production listener."""
    with urllib.request.urlopen(f"{stack.sample.production_url}/") as r:
        return str(json.load(r)["image"])


def approved(run: Run) -> Run:
    run.wait_for_state("RequestApproval")
    assert run.decide("approve") == 200
    return run


def test_a_termination_wait_longer_than_the_poll_budget_ends_deployed(start, stack, sample_service):
    """CodeDeploy reports Succeeded only once the group's termination wait is over; twelve
    polls a second apart end long before this one (a minute, as CodeDeploy counts it)."""
    run = approved(start(waiting_service(sample_service, max_polls=12)))

    execution = run.finish(timeout=150)

    assert execution["status"] == "SUCCEEDED", (execution.get("error"), run.entered())
    assert "Rollback" not in run.entered()
    assert deployment_of(run)["status"] == "Succeeded"
    assert production_image(stack) == run.state.image.pinned


def test_lambda_timeouts_and_throttling_after_traffic_moved_are_retried_not_rolled_back(
    start, stack, inject, faults, sample_service
):
    inject("throttle", "timeout", "timeout")
    run = approved(start(waiting_service(sample_service, max_polls=12)))

    execution = run.finish(timeout=180)

    assert suffered(faults) == ["throttle", "timeout", "timeout"]
    assert failed_attempts(run, "CheckCompletion") == [
        "AwsThrottled",
        "Lambda.Unknown",
        "Lambda.Unknown",
    ]
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), run.entered())
    assert "Rollback" not in run.entered()
    assert deployment_of(run)["status"] == "Succeeded"
    assert production_image(stack) == run.state.image.pinned


def test_a_failed_poll_after_traffic_moved_leaves_the_release_live_and_asks_for_attention(
    start, stack, inject, faults, service_view, sample_service
):
    before = service_view()[1]
    inject("deny")
    run = approved(start(waiting_service(sample_service, max_polls=12)))

    execution = run.finish(timeout=150)

    assert suffered(faults) == ["deny"]
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ReleaseLiveUnconfirmed", execution.get("cause")
    assert "AccessDeniedException" in execution["cause"]
    entered = run.entered()
    assert "ResumeLiveRelease" in entered
    assert "WaitForRollback" not in entered
    assert entered[-1] == "NeedsAttention"
    # Nothing was stopped: CodeDeploy finishes the release, and scaling was restored.
    assert ended(run)["status"] == "Succeeded"
    assert production_image(stack) == run.state.image.pinned
    assert service_view()[1] == before
