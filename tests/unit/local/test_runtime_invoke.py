"""Functions reached through the Lambda Invoke API of the local stack, answering as Lambda does.

How they run (worker processes, timeouts, init errors) is ``test_runtime_sandboxes.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from bluegreen_cli.local.server import LocalStack
from botocore.exceptions import ClientError

from tests.unit.local.localstack_support import get_json, wait_for, write_project


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = write_project(tmp_path_factory.mktemp("mini"))
    with LocalStack(port=0, project_root=root) as running:
        yield running


def _invoke(stack: LocalStack, name: str, event: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = stack.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), **kwargs
    )
    return response, json.loads(response["Payload"].read() or b"null")


def test_a_function_sees_its_own_environment_and_the_emulated_account(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A developer's own profile must not leak into functions (on Lambda there is none).
    monkeypatch.setenv("AWS_PROFILE", "someone-elses-profile")

    response, result = _invoke(stack, "bluegreen-EchoFunction", {"hello": "world"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert result["event"] == {"hello": "world"}
    assert result["env"] == {
        "FROM_GLOBALS": "yes",
        "TABLE_NAME": "bluegreen-Table",
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_PROFILE": None,
        "AWS_LAMBDA_FUNCTION_NAME": "bluegreen-EchoFunction",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    # The function's own boto3 client reached the local account.
    assert "bluegreen-Table" in result["tables"]
    # ...and the server's environment stays its own.
    assert os.environ["AWS_PROFILE"] == "someone-elses-profile"
    assert "TABLE_NAME" not in os.environ


def test_the_context_is_lambda_like(stack: LocalStack) -> None:
    _, result = _invoke(stack, "bluegreen-EchoFunction", {})

    context = result["context"]
    assert context["function_name"] == "bluegreen-EchoFunction"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-EchoFunction"
    )
    # Lambda's runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string.
    assert context["memory_limit_in_mb"] == "384"
    assert len(context["aws_request_id"]) == 36
    assert 0 < context["remaining_ms"] <= 20_000


def test_the_module_is_loaded_once(stack: LocalStack) -> None:
    first = _invoke(stack, "bluegreen-EchoFunction", {})[1]["cold_starts"]
    second = _invoke(stack, "bluegreen-EchoFunction", {})[1]["cold_starts"]

    assert first == second == 1


def test_a_function_is_found_by_name_or_arn(stack: LocalStack) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-EchoFunction"

    assert _invoke(stack, arn, {"by": "arn"})[1]["event"] == {"by": "arn"}
    assert _invoke(stack, f"{arn}:$LATEST", {"by": "qualified"})[1]["event"] == {"by": "qualified"}


def test_an_error_is_reported_as_lambda_reports_it(stack: LocalStack) -> None:
    response, error = _invoke(stack, "bluegreen-FailingFunction", {"why": "change freeze"})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "DeploymentBlocked"
    assert error["errorMessage"] == "blocked: change freeze"
    assert isinstance(error["stackTrace"], list)
    assert any("app.py" in line and "lambda_handler" in line for line in error["stackTrace"])


def test_a_state_machine_catch_matches_the_exception_class_name(stack: LocalStack) -> None:
    sfn = stack.client("stepfunctions")
    machine = stack.app.state_machines["CatchMachine"] if stack.app else ""
    execution = sfn.start_execution(stateMachineArn=machine, name="catch-1", input="{}")

    def finished() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        return described if described["status"] != "RUNNING" else None

    described = wait_for(finished)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"]["Error"] == "DeploymentBlocked"


def test_an_event_invocation_is_accepted_then_run(stack: LocalStack) -> None:
    before = get_json(f"{stack.endpoint_url}/_local/stats")["functions"]
    count = before.get("bluegreen-EchoFunction", {}).get("invocations", 0)

    response = stack.client("lambda").invoke(
        FunctionName="bluegreen-EchoFunction", InvocationType="Event", Payload=b"{}"
    )

    assert response["StatusCode"] == 202
    wait_for(
        lambda: (
            get_json(f"{stack.endpoint_url}/_local/stats")["functions"]["bluegreen-EchoFunction"][
                "invocations"
            ]
            == count + 1
        )
    )


def test_an_unknown_function_is_not_found(stack: LocalStack) -> None:
    with pytest.raises(ClientError) as raised:
        _invoke(stack, "no-such-function", {})

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
