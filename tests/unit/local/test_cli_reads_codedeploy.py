"""What the operators' CLI reads of a deployment from the local CodeDeploy: the share of
production traffic while it shifts, and the final status once stopped with rollback."""

from __future__ import annotations

from bluegreen_cli.reading import codedeploy_now, traffic_on_new

from tests.unit.local.harness import Stack

MINUTE = 60.0


def test_traffic_is_the_green_task_sets_share_as_the_canary_moves_it(stack: Stack) -> None:
    """CodeDeployDefault.ECSCanary10Percent5Minutes: 10% for 5 minutes, then the rest."""
    deployment_id = stack.deploy(
        stack.register_new_version(),
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
    )
    stack.wait(2.0)  # created, then installed: Ready
    before = traffic_on_new(stack.codedeploy, deployment_id)
    stack.codedeploy.continue_deployment(deploymentId=deployment_id)
    stack.wait(1.0)
    canary = traffic_on_new(stack.codedeploy, deployment_id)
    stack.wait(5 * MINUTE)

    assert before == 0.0
    assert canary == 10.0
    assert traffic_on_new(stack.codedeploy, deployment_id) == 100.0


def test_a_deployment_stopped_with_rollback_reads_as_codedeploy_ended_it(stack: Stack) -> None:
    deployment_id = stack.deploy(stack.register_new_version())
    stack.wait(2.0)
    stack.codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
    stack.wait(5.0)
    # What the execution last saw: Ready, before it stopped the deployment.
    document = {"deployment": {"deployment_id": deployment_id, "status": "Ready"}}

    said = codedeploy_now(stack.codedeploy, document)

    assert said is not None
    assert (said.source, said.status) == ("codedeploy", "Stopped")
    assert said.rollback_deployment_id is not None
    assert said.rollback_status == "Succeeded"
    assert said.words() == (
        f"{deployment_id} Stopped, rolled back by {said.rollback_deployment_id} (Succeeded)"
    )


def test_an_unknown_deployment_is_told_as_the_execution_last_saw_it(stack: Stack) -> None:
    document = {"deployment": {"deployment_id": "d-NOSUCH000", "status": "Ready"}}

    said = codedeploy_now(stack.codedeploy, document)

    assert said is not None
    assert (said.source, said.status) == ("document", "Ready")
    assert said.words() == "d-NOSUCH000 Ready (as the execution last saw it)"
