"""The ALB data plane: real HTTP on each listener's port, routed by the current listener action."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from bluegreen_cli.local.codedeploy import Timing
from bluegreen_cli.local.loadbalancer import LoadBalancerPlane, PortInUseError
from bluegreen_cli.local.sample import SampleTarget

from tests.unit.local.harness import Stack

# A new deployment of the fixture's simulator is Ready (green behind the test listener) after:
READY_AFTER = Timing().created_seconds + Timing().install_seconds
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(port: int, path: str = "/") -> tuple[int, dict[str, Any]]:
    try:
        with _DIRECT.open(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else {"raw": body.decode()}


@pytest.fixture
def target(stack: Stack) -> SampleTarget:
    return SampleTarget(stack.sample.production_listener_arn)


@pytest.fixture
def plane(stack: Stack, target: SampleTarget) -> Iterator[LoadBalancerPlane]:
    plane = LoadBalancerPlane(stack.sample.load_balancer_name, target)
    plane.start()
    yield plane
    plane.stop()


def image_of(stack: Stack, task_definition: str) -> str:
    definition = stack.ecs.describe_task_definition(taskDefinition=task_definition)
    return str(definition["taskDefinition"]["containerDefinitions"][0]["image"])


@pytest.mark.usefixtures("plane")
def test_both_listeners_serve_the_original_version_before_any_deployment(stack: Stack) -> None:
    s = stack.sample
    for port in (s.production_port, s.test_port):
        assert get(port) == (
            200,
            {
                "image": s.initial_image,
                "task_definition": s.task_definition_arn,
                "target_group": "demo-web-blue",
            },
        )


@pytest.mark.usefixtures("plane")
def test_test_listener_answers_with_the_green_image_once_ready(stack: Stack) -> None:
    s = stack.sample
    new = stack.register_new_version()
    deployment_id = stack.deploy(new)
    assert get(s.test_port)[1]["image"] == s.initial_image  # not started yet

    stack.wait(READY_AFTER)

    assert stack.deployment(deployment_id)["status"] == "Ready"
    assert get(s.test_port) == (
        200,
        {"image": image_of(stack, new), "task_definition": new, "target_group": "demo-web-green"},
    )
    assert get(s.production_port)[1]["image"] == s.initial_image

    stack.codedeploy.continue_deployment(deploymentId=deployment_id)
    stack.wait(1.0)
    assert get(s.production_port)[1]["image"] == image_of(stack, new)


@pytest.mark.usefixtures("plane")
def test_unhealthy_switch_fails_only_the_replacement_health_check(
    stack: Stack, target: SampleTarget
) -> None:
    s = stack.sample
    deployment_id = stack.deploy(stack.register_new_version())
    stack.wait(READY_AFTER)

    target.set_healthy(False)

    assert get(s.test_port, "/health")[0] == 503
    assert get(s.production_port, "/health")[0] == 200
    target.set_healthy(True)
    assert get(s.test_port, "/health")[0] == 200

    # Once green serves production it is no longer "the replacement".
    target.set_healthy(False)
    stack.codedeploy.continue_deployment(deploymentId=deployment_id)
    stack.wait(1.0)
    assert get(s.production_port, "/health")[0] == 200


@pytest.mark.usefixtures("plane")
def test_a_target_group_without_task_sets_gets_the_albs_503(stack: Stack) -> None:
    s = stack.sample
    stack.elbv2.modify_listener(
        ListenerArn=s.test_listener_arn,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": s.green_target_group_arn}],
    )

    status, body = get(s.test_port)

    assert status == 503
    assert "Service Temporarily Unavailable" in body["raw"]


def test_a_taken_port_is_a_clear_error_and_binds_nothing(
    stack: Stack, target: SampleTarget
) -> None:
    s = stack.sample
    plane = LoadBalancerPlane(s.load_balancer_arn, target)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", s.test_port))
        squatter.listen()

        with pytest.raises(PortInUseError, match=str(s.test_port)):
            plane.start()

    with socket.socket() as probe:  # the production port was released again
        probe.bind(("127.0.0.1", s.production_port))
