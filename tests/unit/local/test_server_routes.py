"""One port: control routes, the HTTP API, Lambda, and AWS calls with local behaviour."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from bluegreen_cli.local.server import LocalStack
from botocore.exceptions import ClientError
from werkzeug.test import Client

from tests.unit.local.localstack_support import get_json, write_project


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = write_project(tmp_path_factory.mktemp("mini"))
    with LocalStack(port=0, project_root=root) as running:
        yield running


def _request(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# -- control routes ----------------------------------------------------------------------


def test_health_is_503_until_the_stack_is_ready() -> None:
    not_started = LocalStack(port=0)

    response = Client(not_started).get("/_local/health")

    assert response.status_code == 503
    assert response.get_json() == {"status": "starting"}


def test_health_is_200_once_ready_and_the_endpoint_is_loopback(stack: LocalStack) -> None:
    assert stack.endpoint_url.startswith("http://127.0.0.1:")
    assert get_json(f"{stack.endpoint_url}/_local/health") == {
        "status": "ready",
        "endpoint": stack.endpoint_url,
    }


def test_the_sample_switch_needs_the_sample(stack: LocalStack) -> None:
    status, _, body = _request(
        f"{stack.endpoint_url}/_local/sample",
        "POST",
        b'{"healthy": false}',
        {"Content-Type": "application/json"},
    )

    assert status == 404
    assert b"--sample" in body


def test_stats_count_invocations_and_state_transitions(stack: LocalStack) -> None:
    stack.client("lambda").invoke(FunctionName="bluegreen-EchoFunction", Payload=b"{}")

    stats = get_json(f"{stack.endpoint_url}/_local/stats")

    assert stats["functions"]["bluegreen-EchoFunction"]["invocations"] >= 1
    assert stats["invocations"] >= 1
    assert isinstance(stats["state_transitions"], int)


# -- the HTTP API ------------------------------------------------------------------------


def test_a_get_becomes_an_http_api_v2_event(stack: LocalStack) -> None:
    status, headers, body = _request(
        f"{stack.endpoint_url}/items/42?x=1&x=2&y=%C3%A9",
        headers={"Cookie": "session=abc; theme=light", "X-Custom-Header": "Value"},
    )

    assert status == 200
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{item_id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "x=1&x=2&y=%C3%A9"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "é"}
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["cookies"] == ["session=abc", "theme=light"]
    assert event["headers"]["x-custom-header"] == "Value"
    assert "cookie" not in event["headers"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["routeKey"] == "GET /items/{item_id}"
    assert event["requestContext"]["stage"] == "$default"
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    # ...and the function's answer became the HTTP response.
    assert headers["X-Item"] == "42"
    assert headers["Content-Type"] == "application/json"
    assert headers.get_all("Set-Cookie") == ["seen=1; Path=/", "theme=dark"]


def test_a_form_post_arrives_base64_encoded(stack: LocalStack) -> None:
    status, _, body = _request(
        f"{stack.endpoint_url}/items/7",
        "POST",
        b"decision=approve&nonce=n1",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert status == 201
    event = json.loads(body)
    assert event["routeKey"] == "POST /items/{item_id}"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"decision=approve&nonce=n1"


def test_a_json_post_arrives_as_text(stack: LocalStack) -> None:
    _, _, body = _request(
        f"{stack.endpoint_url}/items/7",
        "POST",
        b'{"a": 1}',
        {"Content-Type": "application/json"},
    )

    event = json.loads(body)
    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"a": 1}'


def test_no_route_is_api_gateways_404(stack: LocalStack) -> None:
    assert _request(f"{stack.endpoint_url}/items/7", "DELETE")[::2] == (
        404,
        b'{"message": "Not Found"}',
    )
    assert _request(f"{stack.endpoint_url}/items/7/more")[0] == 404


def test_a_failing_api_function_is_a_500_without_its_details(stack: LocalStack) -> None:
    status, _, body = _request(f"{stack.endpoint_url}/items/boom")

    assert status == 500
    assert json.loads(body) == {"message": "Internal Server Error"}


# -- AWS calls with local behaviour -------------------------------------------------------


def test_codedeploy_deployment_calls_reach_the_simulator(stack: LocalStack) -> None:
    # moto has no ContinueDeployment at all; the simulator knows the deployment is missing.
    with pytest.raises(ClientError) as raised:
        stack.client("codedeploy").continue_deployment(
            deploymentId="d-ABCDEFGH1", deploymentWaitType="READY_WAIT"
        )

    assert raised.value.response["Error"]["Code"] == "DeploymentDoesNotExistException"


def test_ecs_refuses_a_new_task_definition_on_a_codedeploy_service(stack: LocalStack) -> None:
    ecs = stack.client("ecs")
    ecs.create_cluster(clusterName="guarded")
    definitions = [
        ecs.register_task_definition(
            family="guarded",
            containerDefinitions=[{"name": "web", "image": f"web:{n}", "memory": 128}],
        )["taskDefinition"]["taskDefinitionArn"]
        for n in (1, 2)
    ]
    ecs.create_service(
        cluster="guarded",
        serviceName="web",
        taskDefinition=definitions[0],
        desiredCount=1,
        deploymentController={"type": "CODE_DEPLOY"},
    )

    with pytest.raises(ClientError) as raised:
        ecs.update_service(cluster="guarded", service="web", taskDefinition=definitions[1])

    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    # Scaling the service is still allowed, as on ECS.
    ecs.update_service(cluster="guarded", service="web", desiredCount=2)


def test_other_aws_calls_reach_the_emulator(stack: LocalStack) -> None:
    tables = stack.client("dynamodb").list_tables()["TableNames"]

    assert "bluegreen-Table" in tables


def test_ecs_rolling_update_through_the_endpoint_completes(stack: LocalStack) -> None:
    """ECS rolling update, through the local endpoint: UpdateService answers with the new
    PRIMARY deployment IN_PROGRESS, and DescribeServices later shows it COMPLETED."""
    ecs = stack.client("ecs")
    ecs.create_cluster(clusterName="rolling")
    old, new = (
        ecs.register_task_definition(
            family="rolling",
            containerDefinitions=[{"name": "web", "image": f"web:{n}", "memory": 128}],
        )["taskDefinition"]["taskDefinitionArn"]
        for n in (1, 2)
    )
    ecs.create_service(cluster="rolling", serviceName="web", taskDefinition=old, desiredCount=1)

    updated = ecs.update_service(cluster="rolling", service="web", taskDefinition=new)["service"]

    assert [(d["status"], d["rolloutState"]) for d in updated["deployments"]] == [
        ("PRIMARY", "IN_PROGRESS"),
        ("ACTIVE", "IN_PROGRESS"),
    ]
    deadline = time.monotonic() + 20
    while True:
        (described,) = ecs.describe_services(cluster="rolling", services=["web"])["services"]
        states = [(d["rolloutState"], d["taskDefinition"]) for d in described["deployments"]]
        if states == [("COMPLETED", new)]:
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.2)
