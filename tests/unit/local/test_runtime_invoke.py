"""Functions run in-process the way Lambda runs them, reached through the Lambda Invoke API."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bluegreen_cli.local.runtime import FunctionRuntime
from bluegreen_cli.local.server import LocalStack
from bluegreen_cli.local.template import LocalFunction
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
    # ...and the server's environment is its own again.
    assert os.environ["AWS_PROFILE"] == "someone-elses-profile"
    assert "TABLE_NAME" not in os.environ


def test_the_context_is_lambda_like(stack: LocalStack) -> None:
    _, result = _invoke(stack, "bluegreen-EchoFunction", {})

    context = result["context"]
    assert context["function_name"] == "bluegreen-EchoFunction"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-EchoFunction"
    )
    assert context["memory_limit_in_mb"] == 384
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


# -- the runtime on its own: load failures and answers Lambda cannot send -----------------


def _function(tmp_path: Path, source: str, name: str = "broken") -> LocalFunction:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "app.py").write_text(textwrap.dedent(source))
    return LocalFunction(
        logical_id=name.title(),
        name=f"test-{name}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:test-{name}",
        code_dir=folder,
        handler="app.lambda_handler",
        environment={},
    )


def test_a_module_that_fails_to_import_is_an_init_error(tmp_path: Path) -> None:
    function = _function(tmp_path, "import not_a_module_anywhere\n")
    runtime = FunctionRuntime({function.logical_id: function}, "http://127.0.0.1:9")

    result = runtime.invoke(function, {})

    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.ImportModuleError"
    assert "not_a_module_anywhere" in result.json()["errorMessage"]


def test_a_missing_handler_is_reported(tmp_path: Path) -> None:
    function = _function(tmp_path, "def other(event, context):\n    return 1\n", "nohandler")
    runtime = FunctionRuntime({function.logical_id: function}, "http://127.0.0.1:9")

    assert runtime.invoke(function, {}).json()["errorType"] == "Runtime.HandlerNotFound"


def test_an_answer_that_is_not_json_is_a_marshal_error(tmp_path: Path) -> None:
    function = _function(
        tmp_path, "def lambda_handler(event, context):\n    return {1, 2}\n", "unmarshal"
    )
    runtime = FunctionRuntime({function.logical_id: function}, "http://127.0.0.1:9")

    result = runtime.invoke(function, {})

    assert result.json()["errorType"] == "Runtime.MarshalError"
    assert runtime.stats()["functions"]["test-unmarshal"] == {
        "invocations": 1,
        "errors": 1,
        "total_ms": pytest.approx(runtime.stats()["functions"]["test-unmarshal"]["total_ms"]),
    }


def test_functions_do_not_share_module_state(tmp_path: Path) -> None:
    # Two functions importing the same helper package each get their own copy, as two
    # Lambda functions do.
    shared = tmp_path / "layer"
    (shared / "sharedstate").mkdir(parents=True)
    (shared / "sharedstate" / "__init__.py").write_text("CALLS = []\n")
    source = """
        import sharedstate

        def lambda_handler(event, context):
            sharedstate.CALLS.append(1)
            return len(sharedstate.CALLS)
    """
    first = _function(tmp_path, source, "first")
    second = _function(tmp_path, source, "second")
    first = LocalFunction(**{**first.__dict__, "layer_dirs": (shared,)})
    second = LocalFunction(**{**second.__dict__, "layer_dirs": (shared,)})
    runtime = FunctionRuntime({"First": first, "Second": second}, "http://127.0.0.1:9")

    assert [runtime.invoke(first, {}).json() for _ in range(2)] == [1, 2]
    assert runtime.invoke(second, {}).json() == 1


def test_other_threads_read_the_environment_safely_while_invocations_swap_it() -> None:
    # Every botocore/urllib request walks os.environ for proxies, from any thread.
    import threading
    import urllib.request

    from bluegreen_cli.local import runtime

    errors: list[str] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                urllib.request.getproxies()
        except Exception as e:
            errors.append(repr(e))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(3000):
            with runtime._environment({**os.environ, f"SWAPPED_{i % 40}": "x"}):
                pass
    finally:
        done.set()
        reader.join()

    assert errors == []
    assert not [k for k in os.environ if k.startswith("SWAPPED_")]
