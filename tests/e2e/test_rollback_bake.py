"""`bluegreen rollback` during a deployment's bake, on `bluegreen local serve --sample`: with
production traffic already on the new task set and the original not yet terminated, it stops
the deployment with CodeDeploy's rollback (StopDeployment, autoRollbackEnabled) instead of
starting one, and production is back on the image before at once.

The service deploys through a group like the sample's whose termination wait lasts a minute
(CodeDeploy's terminateBlueInstancesOnDeploymentSuccess.terminationWaitTimeInMinutes): long
enough to act in, as an operator would.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from bluegreen.domain.digest import short_digest

from tests.e2e.cli_support import bluegreen
from tests.e2e.support import (
    approval_link,
    approve,
    aws,
    executions_for,
    finished,
    http,
    production_image,
    push,
    scaling_suspended,
    serve,
    wait,
)

pytestmark = pytest.mark.e2e

BAKING_GROUP = "demo-web-bakes"
NOT_SUSPENDED = {
    "DynamicScalingInSuspended": False,
    "DynamicScalingOutSuspended": False,
    "ScheduledScalingSuspended": False,
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with serve() as running:
        bake_for_a_minute(running)
        yield running


def bake_for_a_minute(endpoint: str) -> None:
    """Deploy the sample through a group that waits a minute before terminating blue: the
    service configuration changed before any push reads it."""
    codedeploy = aws(endpoint, "codedeploy")
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
        deploymentGroupName=BAKING_GROUP,
        serviceRoleArn=sample["serviceRoleArn"],
        deploymentConfigName=sample["deploymentConfigName"],
        deploymentStyle=sample["deploymentStyle"],
        blueGreenDeploymentConfiguration=blue_green,
        autoRollbackConfiguration=sample["autoRollbackConfiguration"],
        ecsServices=sample["ecsServices"],
        loadBalancerInfo=sample["loadBalancerInfo"],
    )
    ssm = aws(endpoint, "ssm")
    configured = ssm.get_parameter(Name="/bluegreen/services")["Parameter"]["Value"]
    changed = re.sub(
        r'^deployment_group = "demo-web"$',
        f'deployment_group = "{BAKING_GROUP}"',
        configured,
        flags=re.MULTILINE,
    )
    assert changed != configured
    ssm.put_parameter(Name="/bluegreen/services", Value=changed, Type="String", Overwrite=True)


def baking(endpoint: str) -> dict[str, Any] | None:
    """The group's deployment in its termination wait, if one is."""
    codedeploy = aws(endpoint, "codedeploy")
    for deployment_id in codedeploy.list_deployments(
        applicationName="demo-web",
        deploymentGroupName=BAKING_GROUP,
        includeOnlyStatuses=["InProgress", "Ready", "Baking"],
    )["deployments"]:
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info.get("instanceTerminationWaitTimeStarted"):
            return dict(info)
    return None


def push_and_approve(endpoint: str) -> tuple[str, str, str]:
    """A new image, approved: (tag, digest, its execution's ARN)."""
    tag = secrets.token_hex(20)
    pushed = push(endpoint, tag)
    assert approve(wait(lambda: approval_link(endpoint, tag), 60, "the approval email")) == 200
    (execution,) = executions_for(endpoint, pushed)
    return tag, pushed, str(execution["executionArn"])


def served(endpoint: str) -> str:
    """The image the production listener serves, asked over HTTP as a client would."""
    production_url = json.loads(http(f"{endpoint}/_local/sample")[1])["production_url"]
    return str(json.loads(http(f"{production_url}/")[1])["image"])


def test_rollback_during_a_bake_stops_the_deployment_with_codedeploys_rollback(
    endpoint: str,
) -> None:
    first_tag, first, first_execution = push_and_approve(endpoint)
    bake = wait(lambda: baking(endpoint), 60, "the first deployment's bake")
    aws(endpoint, "codedeploy").continue_deployment(
        deploymentId=bake["deploymentId"], deploymentWaitType="TERMINATION_WAIT"
    )  # its bake cut short: it is the release to go back to
    assert finished(endpoint, first_execution)["status"] == "SUCCEEDED"
    second_tag, second, second_execution = push_and_approve(endpoint)
    bake = wait(lambda: baking(endpoint), 60, "the second deployment's bake")
    assert served(endpoint).endswith(f"@{second}")

    started = time.monotonic()
    result = bluegreen(endpoint, "rollback", "demo-web", "--yes", "--follow", "--json")
    took = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["path"] == "stop-with-rollback"
    assert done["deployment_id"] == bake["deploymentId"]
    assert (done["from"]["digest"], done["to"]["digest"]) == (second, first)
    assert (done["outcome"], done["serves_target"]) == ("succeeded", True)
    assert f"deployment {bake['deploymentId']} bakes {second_tag[:40]}" in result.stderr
    assert served(endpoint).endswith(f"@{first}")
    assert production_image(endpoint).endswith(f"@{first}")
    stopped = aws(endpoint, "codedeploy").get_deployment(deploymentId=bake["deploymentId"])
    assert stopped["deploymentInfo"]["status"] == "Stopped"
    assert (
        stopped["deploymentInfo"]["rollbackInfo"]["rollbackDeploymentId"]
        == (done["rollback_deployment_id"])
    )
    # No deployment of its own: the interrupted one cleaned up after itself.
    assert [e["name"] for e in executions_for(endpoint, first)] == [
        f"demo-web-prod-{short_digest(first)}"
    ]
    ended = finished(endpoint, second_execution)
    assert ended["status"] == "FAILED"
    assert scaling_suspended(endpoint) == NOT_SUSPENDED
    assert took < 60  # well inside the minute the bake would have lasted

    history = bluegreen(endpoint, "history", "demo-web", "--json")
    rows = json.loads(history.stdout)["deployments"]
    (row,) = [r for r in rows if r.get("source") == "rollback"]
    assert (row["outcome"], row["path"]) == ("succeeded", "stop-with-rollback")
    assert row["tag"] == first_tag
    assert (row["from"]["tag"], row["stopped_execution"]) == (
        second_tag,
        second_execution.rsplit(":", 1)[-1],
    )
    assert row["requested_by"] == done["requested_by"]
    assert row["running"] is True
    interrupted = next(r for r in rows if r.get("execution_name") == row["stopped_execution"])
    assert interrupted["outcome"] == "rolled_back"
