"""One test per path through statemachine/deploy.asl.json, on the local engine."""

from __future__ import annotations

import json
import urllib.request

from bluegreen_cli.local.server import LocalStack
from conftest import Run, set_health

NOT_SUSPENDED = {
    "DynamicScalingInSuspended": False,
    "DynamicScalingOutSuspended": False,
    "ScheduledScalingSuspended": False,
}


def production_image(stack: LocalStack) -> str:
    """What the production listener serves, asked over HTTP like a client would."""
    with urllib.request.urlopen(f"{stack.sample.production_url}/") as r:
        return str(json.load(r)["image"])


def rendered_task_definition(run: Run) -> str:
    for event in run.history():
        details = event.get("stateExitedEventDetails", {})
        if details.get("name") == "RenderTaskDefinition":
            return str(json.loads(details["output"])["render"]["task_definition"])
    raise AssertionError("RenderTaskDefinition never finished")


def test_approved_and_healthy_deploys_and_restores_scaling(start, service_view, stack):
    before, scaling_before = service_view()
    assert scaling_before == NOT_SUSPENDED

    run = start()
    run.wait_for_state("RequestApproval")
    assert run.decide("approve") == 200
    execution = run.finish()

    assert execution["status"] == "SUCCEEDED", run.entered()
    new_task_definition = rendered_task_definition(run)
    running, scaling_after = service_view()
    assert running == new_task_definition != before
    assert scaling_after == NOT_SUSPENDED
    assert production_image(stack) == run.state.image.pinned
    assert "ProbeTestListener" in run.entered()
    output = json.loads(execution["output"])
    assert output["approval"]["approver"] == "approver@example.com"


def test_rejected_registers_task_definition_but_never_touches_the_service(
    start, service_view, stack
):
    before, scaling_before = service_view()

    run = start()
    run.wait_for_state("RequestApproval")
    assert run.decide("reject") == 200
    execution = run.finish()

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ApprovalRejected"
    assert execution["cause"] == "rejected by approver@example.com"
    registered = rendered_task_definition(run)
    ecs = stack.client("ecs")
    image = ecs.describe_task_definition(taskDefinition=registered)["taskDefinition"]
    assert image["containerDefinitions"][0]["image"] == run.state.image.pinned
    assert service_view() == (before, scaling_before)
    assert "SuspendScaling" not in run.entered()
    assert "CreateDeployment" not in run.entered()


def test_an_approver_ses_refuses_does_not_stop_the_others_email(start, sample_service, stack):
    """SES sandbox: mail goes only to verified addresses, and one refused recipient must not
    stop the others. The verified approver is emailed, approves, and the release goes on."""
    unverified = "not-verified@example.com"
    run = start(sample_service(approvers=[unverified, "approver@example.com"]))
    run.wait_for_state("RequestApproval")

    assert run.decide("approve") == 200
    execution = run.finish()

    assert execution["status"] == "SUCCEEDED", run.entered()
    with urllib.request.urlopen(f"{stack.endpoint_url}/_local/outbox") as r:
        mine = [m for m in json.load(r) if run.state.image.tag in str(m.get("subject"))]
    assert [m["to"] for m in mine if m["channel"] == "email"] == ["approver@example.com"]
    # Who was not reached, and why, is kept in the execution's history.
    submitted = [e for e in run.history() if e["type"] == "TaskSubmitted"]
    payloads = [json.loads(e["taskSubmittedEventDetails"]["output"])["Payload"] for e in submitted]
    (payload,) = [p for p in payloads if "emailed" in p]  # RequestApproval's, not TakeTurn's
    assert payload["emailed"] == ["approver@example.com"]
    assert [u["recipient"] for u in payload["unreached"]] == [unverified]
    assert "SES sandbox" in payload["unreached"][0]["reason"]


def test_approval_timeout_fails_without_touching_the_service(start, service_view, sample_service):
    before = service_view()

    run = start(sample_service(timings={"approval_timeout_seconds": 2}))
    execution = run.finish(timeout=30)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ApprovalTimedOut"
    assert service_view() == before
    assert "SuspendScaling" not in run.entered()


def test_unhealthy_test_listener_rolls_back_and_restores_scaling(start, service_view, stack):
    before, scaling_before = service_view()
    serving_before = production_image(stack)
    set_health(stack, False)

    run = start()
    run.wait_for_state("RequestApproval")
    assert run.decide("approve") == 200
    execution = run.finish()

    assert execution["status"] == "FAILED"
    assert execution["error"] == "TestTrafficUnhealthy"
    entered = run.entered()
    assert entered.index("ProbeTestListener") < entered.index("Rollback")
    assert "ContinueDeployment" not in entered
    assert service_view() == (before, scaling_before)
    assert production_image(stack) == serving_before
    deployment = stack.client("codedeploy").get_deployment(deploymentId=_deployment_of(run))
    assert deployment["deploymentInfo"]["status"] == "Stopped"


def test_error_creating_deployment_restores_exact_prior_scaling(
    start, service_view, stack, sample_service
):
    aas = stack.client("application-autoscaling")
    partly = {**NOT_SUSPENDED, "DynamicScalingInSuspended": True}
    aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/demo/web",
        ScalableDimension="ecs:service:DesiredCount",
        SuspendedState=partly,
    )
    try:
        before, _ = service_view()
        run = start(sample_service(deployment_group="does-not-exist"))
        run.wait_for_state("RequestApproval")
        assert run.decide("approve") == 200
        execution = run.finish()

        assert execution["status"] == "FAILED"
        assert execution["error"] == "ResourceMissing"
        entered = run.entered()
        assert entered.index("SuspendScaling") < entered.index("Rollback")
        assert "ResumeAfterRollback" in entered
        assert service_view() == (before, partly)
    finally:
        aas.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId="service/demo/web",
            ScalableDimension="ecs:service:DesiredCount",
            SuspendedState=NOT_SUSPENDED,
        )


def _deployment_of(run: Run) -> str:
    for event in reversed(run.history()):
        details = event.get("stateExitedEventDetails", {})
        if details.get("name") == "CreateDeployment":
            return str(json.loads(details["output"])["deployment"]["deployment_id"])
    raise AssertionError("no deployment was created")
