"""An operator's rollback (source ``rollback``) through the real ASL on the local engine: the
same safe path as a push, without a new approval unless the service requires one."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from bluegreen.domain.image import rollback_name
from bluegreen.models import DeploymentState, ImageRef, RollbackRequest, ServiceConfig
from bluegreen_cli.local.server import LocalStack
from conftest import ACCOUNT, Run, SampleService

OPERATOR = "arn:aws:iam::123456789012:user/operator"
NOT_SUSPENDED = {
    "DynamicScalingInSuspended": False,
    "DynamicScalingOutSuspended": False,
    "ScheduledScalingSuspended": False,
}


def start_rollback(stack: LocalStack, service: ServiceConfig, seed: str) -> Run:
    """A rollback to an image pushed a day ago: older than anything production ran since."""
    image = ImageRef(
        registry_id=ACCOUNT,
        region="us-east-1",
        repository="demo-web",
        tag=hashlib.sha1(seed.encode()).hexdigest()[:12],  # noqa: S324
        digest="sha256:" + hashlib.sha256(f"{seed}{time.time()}".encode()).hexdigest(),
        pushed_at=datetime.now(UTC) - timedelta(days=1),
    )
    state = DeploymentState(
        execution_name=rollback_name(service, image, 1),
        service=service,
        image=image,
        source="rollback",
        requested_at=datetime.now(UTC),
        rollback_request=RollbackRequest(requested_by=OPERATOR, from_tag="newer"),
    )
    sfn = stack.client("stepfunctions")
    machine = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if "deploy" in m["name"]
    )
    arn = sfn.start_execution(
        stateMachineArn=machine, name=state.execution_name, input=json.dumps(state.dump())
    )["executionArn"]
    return Run(stack, state, arn)


def approval_requests(stack: LocalStack, tag: str) -> list[str]:
    """The subjects of the approval emails sent for ``tag``."""
    with urllib.request.urlopen(f"{stack.endpoint_url}/_local/outbox") as r:
        subjects = [str(m.get("subject")) for m in json.load(r) if m["channel"] == "email"]
    return [s for s in subjects if s.startswith("[bluegreen] Approve") and tag in s]


def test_a_rollback_deploys_through_the_test_listener_without_a_new_approval(
    stack: LocalStack, sample_service: SampleService, service_view: Any
) -> None:
    run = start_rollback(stack, sample_service(), "no approval")
    execution = run.finish()

    assert execution["status"] == "SUCCEEDED", run.entered()
    entered = run.entered()
    assert "RequestApproval" not in entered
    safe_path = ["Admit", "RenderTaskDefinition", "TakeTurn", "SuspendScaling", "CreateDeployment"]
    safe_path += ["ProbeTestListener", "ContinueDeployment", "ResumeScaling", "NotifyDeployed"]
    assert [s for s in dict.fromkeys(entered) if s in safe_path] == safe_path
    running, scaling = service_view()
    image = stack.client("ecs").describe_task_definition(taskDefinition=running)
    assert image["taskDefinition"]["containerDefinitions"][0]["image"] == run.state.image.pinned
    assert scaling == NOT_SUSPENDED
    assert approval_requests(stack, run.state.image.tag) == []
    assert json.loads(execution["output"]).get("approval") is None


def test_a_service_that_requires_approval_for_rollbacks_gets_asked(
    stack: LocalStack, sample_service: SampleService
) -> None:
    run = start_rollback(stack, sample_service(rollback_requires_approval=True), "approval")
    run.wait_for_state("RequestApproval")
    assert "TakeTurn" not in run.entered()

    assert run.decide("approve") == 200
    execution = run.finish()

    assert execution["status"] == "SUCCEEDED", run.entered()
    assert json.loads(execution["output"])["approval"]["approver"] == "approver@example.com"
    assert len(approval_requests(stack, run.state.image.tag)) == 1
