"""Step Functions on the local stack behaves as AWS documents it, where moto does otherwise.

A small project of its own: tiny state machines around a do-nothing function, and a few
"crafted" functions whose Invoke answers the stack serves byte for byte as Lambda would
(a sandbox timeout, a throttle, ...), so each error mapping is observed end to end.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bluegreen.domain.image import execution_name
from bluegreen.models import ImageRef
from bluegreen_cli.local import stepfunctions
from bluegreen_cli.local.events import executions
from bluegreen_cli.local.runtime import invoke_function_name
from bluegreen_cli.local.server import LocalStack
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.wrappers import Response

from tests.unit.builders import demo_service
from tests.unit.local.localstack_support import wait_for

ACCOUNT = "123456789012"

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  RecordDir:
    Type: String
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    Timeout: 20
Resources:
  NoopFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/noop/
  RecorderFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/recorder/
      Environment:
        Variables:
          RECORD_DIR: !Ref RecordDir
      Events:
        Aborted:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.states]
              detail-type: [Step Functions Execution Status Change]
              detail:
                status: [ABORTED]
"""

NOOP = """
def lambda_handler(event, context):
    return {"ok": True}
"""

RECORDER = """
import json, os, pathlib

def lambda_handler(event, context):
    folder = pathlib.Path(os.environ["RECORD_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{event['id']}.json").write_text(json.dumps(event))
"""


def _machine(logical_id: str, definition: dict[str, Any]) -> str:
    document = {
        "Type": "AWS::Serverless::StateMachine",
        "Properties": {
            "Name": f"fidelity-{logical_id}",
            "Definition": definition,
            "DefinitionSubstitutions": {"NoopArn": {"Fn::GetAtt": ["NoopFunction", "Arn"]}},
        },
    }
    return textwrap.indent(f"{logical_id}:\n" + textwrap.indent(json.dumps(document), "  "), "  ")


def _callback_task(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "${NoopArn}", "Payload": {"token.$": "$$.Task.Token"}},
        **fields,
    }


CAUGHT = {"Type": "Pass", "End": True}


def _catch(error: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": [error], "ResultPath": "$.error", "Next": "Caught"}]


MACHINES = {
    "Callback": {
        "StartAt": "Wait for callback",
        "States": {"Wait for callback": _callback_task(TimeoutSeconds=600, End=True)},
    },
    "ShortCallback": {
        "StartAt": "Wait for callback",
        "States": {"Wait for callback": _callback_task(TimeoutSeconds=1, End=True)},
    },
    "ExecutionTimeout": {
        "TimeoutSeconds": 1,
        "StartAt": "Wait for callback",
        "States": {"Wait for callback": _callback_task(TimeoutSeconds=600, End=True)},
    },
    "Heartbeat": {
        "StartAt": "Wait for callback",
        "States": {
            "Wait for callback": _callback_task(HeartbeatSeconds=1, TimeoutSeconds=60, End=True)
        },
    },
    **{
        f"HeartbeatCaughtAs{error.removeprefix('States.')}": {
            "StartAt": "Wait for callback",
            "States": {
                "Wait for callback": _callback_task(
                    HeartbeatSeconds=1,
                    TimeoutSeconds=60,
                    Catch=_catch(error),
                    End=True,
                ),
                "Caught": CAUGHT,
            },
        }
        for error in ("States.HeartbeatTimeout", "States.Timeout")
    },
    "RetriedCallback": {
        "StartAt": "Wait for callback",
        "States": {
            "Wait for callback": _callback_task(
                TimeoutSeconds=600,
                Retry=[{"ErrorEquals": ["Retryable"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                End=True,
            )
        },
    },
    "Choice": {
        "StartAt": "Which way",
        "States": {
            "Which way": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.way", "StringEquals": "left", "Next": "Left"}],
            },
            "Left": {"Type": "Succeed"},
        },
    },
    "Invoke": {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName.$": "$.function", "Payload": {}},
                "Retry": [
                    {"ErrorEquals": ["Lambda.Unknown"], "IntervalSeconds": 1, "MaxAttempts": 1}
                ],
                "Catch": _catch("States.ALL"),
                "End": True,
            },
            "Caught": CAUGHT,
        },
    },
    "InvokeByArn": {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:crafted-throttled",
                "Catch": _catch("States.ALL"),
                "End": True,
            },
            "Caught": CAUGHT,
        },
    },
    "InvokeTimedOutByArn": {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:crafted-sandbox-timeout",
                "Catch": _catch("Lambda.Unknown"),
                "End": True,
            },
            "Caught": CAUGHT,
        },
    },
}

SANDBOX_TIMEOUT = {
    "errorType": "Sandbox.Timedout",
    "errorMessage": "RequestId: 5d1a6f1e-0bb5-4d1e-8a8e-2a3b4c5d6e7f "
    "Error: Task timed out after 30.00 seconds",
}
UNTYPED_ERROR = {
    "errorMessage": "2024-05-06T13:44:03.691Z 58439e2d Task timed out after 3.00 seconds"
}

# name -> (HTTP status, headers, body) of the Invoke answer, as Lambda gives it.
CRAFTED: dict[str, tuple[int, dict[str, str], dict[str, Any]]] = {
    "crafted-sandbox-timeout": (200, {"X-Amz-Function-Error": "Unhandled"}, SANDBOX_TIMEOUT),
    "crafted-untyped-error": (200, {"X-Amz-Function-Error": "Unhandled"}, UNTYPED_ERROR),
    "crafted-typed-error": (
        200,
        {"X-Amz-Function-Error": "Unhandled"},
        {"errorType": "DeploymentBlocked", "errorMessage": "blocked", "stackTrace": []},
    ),
    "crafted-throttled": (
        429,
        {"x-amzn-ErrorType": "TooManyRequestsException"},
        {"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrency"},
    ),
    "crafted-service-error": (
        500,
        {"x-amzn-ErrorType": "ServiceException"},
        {"Type": "Service", "message": "An internal error occurred."},
    ),
    "crafted-access-denied": (
        403,
        {"x-amzn-ErrorType": "AccessDeniedException"},
        {"Type": "User", "Message": "not authorized to perform: lambda:InvokeFunction"},
    ),
}


class CraftedLambdaStack(LocalStack):
    """The local stack, plus functions whose Invoke answer is served as written above."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crafted_calls: dict[str, int] = {}
        self._calls_lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        name = invoke_function_name(str(environ.get("PATH_INFO", ""))) or ""
        name = name.split(":function:")[-1].split(":")[0]  # a name, or an ARN
        if name not in CRAFTED:
            return super().__call__(environ, start_response)
        with self._calls_lock:
            self.crafted_calls[name] = self.crafted_calls.get(name, 0) + 1
        status, headers, body = CRAFTED[name]
        response = Response(
            json.dumps(body),
            status=status,
            content_type="application/json",
            headers={"x-amzn-RequestId": "5d1a6f1e-0bb5-4d1e-8a8e-2a3b4c5d6e7f", **headers},
        )
        return response(environ, start_response)


def _write_project(root: Path) -> Path:
    machines = "\n".join(_machine(logical_id, d) for logical_id, d in MACHINES.items())
    (root / "template.yaml").write_text(TEMPLATE + machines + "\n")
    for name, source in (("noop", NOOP), ("recorder", RECORDER)):
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "app.py").write_text(source)
    return root


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("records")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, records: Path) -> Iterator[CraftedLambdaStack]:
    root = _write_project(tmp_path_factory.mktemp("fidelity"))
    with CraftedLambdaStack(
        port=0, project_root=root, parameters={"RecordDir": str(records)}
    ) as running:
        yield running


@pytest.fixture
def sfn(stack: CraftedLambdaStack) -> Any:
    return stack.client("stepfunctions")


def _start(
    stack: CraftedLambdaStack, machine: str, name: str, document: dict[str, Any] | None = None
) -> str:
    arn = stack.app.state_machines[machine] if stack.app else ""
    sfn = stack.client("stepfunctions")
    return str(
        sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(document or {}))[
            "executionArn"
        ]
    )


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


def _finished(sfn: Any, arn: str, timeout: float = 20) -> dict[str, Any]:
    def closed() -> dict[str, Any] | None:
        execution = dict(sfn.describe_execution(executionArn=arn))
        return execution if execution["status"] != "RUNNING" else None

    return dict(wait_for(closed, timeout=timeout))


def _token(sfn: Any, arn: str, attempt: int = 1) -> str:
    """The token given to the task's ``attempt``-th invocation (from TaskScheduled)."""

    def scheduled() -> list[dict[str, Any]]:
        return [e for e in _history(sfn, arn) if e["type"] == "TaskScheduled"]

    events = wait_for(lambda: len(scheduled()) >= attempt and scheduled())
    parameters = json.loads(events[attempt - 1]["taskScheduledEventDetails"]["parameters"])
    return str(parameters["Payload"]["token"])


def _waiting(sfn: Any, arn: str) -> str:
    """The token of a task that has been given it and now waits for a callback."""
    token = _token(sfn, arn)
    wait_for(lambda: any(e["type"] == "TaskSubmitted" for e in _history(sfn, arn)))
    return token


def _error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def _caught(execution: dict[str, Any]) -> dict[str, Any]:
    assert execution["status"] == "SUCCEEDED", execution
    return dict(json.loads(execution["output"])["error"])


# -- StopExecution --------------------------------------------------------------------------


def test_stop_execution_aborts_an_execution_waiting_for_a_task_token_at_once(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """StopExecution: the execution is ABORTED, the answer carries stopDate, and the error
    and cause given are kept (DescribeExecution, ExecutionAborted)."""
    arn = _start(stack, "Callback", "stop-waiting")
    _waiting(sfn, arn)

    answer = sfn.stop_execution(executionArn=arn, error="Operator", cause="changed my mind")

    execution = sfn.describe_execution(executionArn=arn)
    assert execution["status"] == "ABORTED"
    assert execution["stopDate"] == answer["stopDate"]
    assert execution["error"] == "Operator"
    assert execution["cause"] == "changed my mind"
    history = _history(sfn, arn)
    assert history[-1]["type"] == "ExecutionAborted"
    assert history[-1]["executionAbortedEventDetails"] == {
        "error": "Operator",
        "cause": "changed my mind",
    }


def test_an_execution_stopped_while_waiting_emits_its_aborted_status_change(
    stack: CraftedLambdaStack, sfn: Any, records: Path
) -> None:
    """EventBridge: "Step Functions Execution Status Change" with status ABORTED."""
    arn = _start(stack, "Callback", "stop-emits")
    _waiting(sfn, arn)

    sfn.stop_execution(executionArn=arn, error="Operator", cause="emits")

    def aborted() -> list[dict[str, Any]]:
        events = [json.loads(p.read_text()) for p in records.glob("*.json")]
        return [e for e in events if e["detail"]["executionArn"] == arn]

    (event,) = wait_for(aborted)
    assert event["detail"]["status"] == "ABORTED"
    assert event["detail"]["error"] == "Operator"
    assert event["detail"]["cause"] == "emits"
    assert isinstance(event["detail"]["stopDate"], int)


def test_the_history_of_an_aborted_execution_ends_with_execution_aborted(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """Nothing is recorded after ExecutionAborted: the stopped task reports no timeout."""
    arn = _start(stack, "Callback", "stop-quiet")
    _waiting(sfn, arn)

    sfn.stop_execution(executionArn=arn)

    wait_for(lambda: _interpreter_finished(arn))
    history = _history(sfn, arn)
    assert [e["type"] for e in history][-3:] == ["TaskStarted", "TaskSubmitted", "ExecutionAborted"]
    assert "error" not in history[-1]["executionAbortedEventDetails"]
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"


def _interpreter_finished(arn: str) -> bool:
    """Whether the thread interpreting the execution has returned."""
    (execution,) = [e for e in executions() if e.execution_arn == arn]
    logic = execution.exec_worker._execution_logic
    return not any(getattr(t, "_target", None) == logic for t in threading.enumerate())


# -- callbacks ------------------------------------------------------------------------------


def test_a_callback_for_a_stopped_execution_answers_task_timed_out(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """SendTaskSuccess/Failure/Heartbeat: TaskTimedOut once the task is no longer waiting."""
    arn = _start(stack, "Callback", "callback-after-stop")
    token = _waiting(sfn, arn)
    sfn.stop_execution(executionArn=arn)

    assert _error_code(lambda: sfn.send_task_success(taskToken=token, output="{}")) == (
        "TaskTimedOut"
    )
    assert _error_code(lambda: sfn.send_task_failure(taskToken=token, error="E")) == (
        "TaskTimedOut"
    )
    assert _error_code(lambda: sfn.send_task_heartbeat(taskToken=token)) == "TaskTimedOut"


def test_a_second_callback_for_the_same_task_answers_task_timed_out(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """The task closed with the first answer; its token is spent."""
    arn = _start(stack, "Callback", "callback-twice")
    token = _waiting(sfn, arn)

    sfn.send_task_success(taskToken=token, output='{"approved": true}')

    assert _error_code(lambda: sfn.send_task_failure(taskToken=token, error="Late")) == (
        "TaskTimedOut"
    )
    execution = _finished(sfn, arn)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"approved": True}


def test_a_callback_after_the_task_timed_out_answers_task_timed_out(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """TimeoutSeconds elapsed: States.Timeout, and the token is expired."""
    arn = _start(stack, "ShortCallback", "callback-after-timeout")
    token = _token(sfn, arn)

    execution = _finished(sfn, arn)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.Timeout"
    assert _error_code(lambda: sfn.send_task_success(taskToken=token, output="{}")) == (
        "TaskTimedOut"
    )


def test_a_callback_after_the_execution_timed_out_answers_task_timed_out(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """The state machine's TimeoutSeconds elapsed: TIMED_OUT, and its tasks' tokens expired."""
    arn = _start(stack, "ExecutionTimeout", "callback-after-execution-timeout")
    token = _waiting(sfn, arn)

    assert _finished(sfn, arn)["status"] == "TIMED_OUT"
    assert _error_code(lambda: sfn.send_task_success(taskToken=token, output="{}")) == (
        "TaskTimedOut"
    )
    wait_for(lambda: _history(sfn, arn)[-1]["type"] == "ExecutionTimedOut")


def test_a_retried_callback_task_gets_a_new_token_and_the_old_one_is_expired(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """Each attempt of a .waitForTaskToken task is given its own token."""
    arn = _start(stack, "RetriedCallback", "callback-retried")
    first = _waiting(sfn, arn)
    sfn.send_task_failure(taskToken=first, error="Retryable", cause="try again")
    second = _token(sfn, arn, attempt=2)

    assert second != first
    assert _error_code(lambda: sfn.send_task_success(taskToken=first, output="{}")) == (
        "TaskTimedOut"
    )
    sfn.send_task_success(taskToken=second, output='{"second": true}')
    execution = _finished(sfn, arn)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"second": True}


def test_an_unknown_or_garbled_token_answers_invalid_token(sfn: Any) -> None:
    """SendTask*: InvalidToken for a token no task was given."""
    for token in ("not-a-token", "AQCEAAAAKgAAAAMAAAAA" + "x" * 200):
        assert _error_code(lambda t=token: sfn.send_task_success(taskToken=t, output="{}")) == (
            "InvalidToken"
        )
        assert _error_code(lambda t=token: sfn.send_task_heartbeat(taskToken=t)) == "InvalidToken"


def test_a_heartbeat_for_a_waiting_task_without_heartbeat_seconds_is_accepted(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """SendTaskHeartbeat succeeds for any waiting task; the task keeps waiting."""
    arn = _start(stack, "Callback", "heartbeat-accepted")
    token = _waiting(sfn, arn)

    sfn.send_task_heartbeat(taskToken=token)

    sfn.send_task_failure(taskToken=token, error="Rejected", cause="by a human")
    execution = _finished(sfn, arn)
    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        "Rejected",
        "by a human",
    )


def test_send_task_success_refuses_output_that_is_not_json(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """SendTaskSuccess: InvalidOutput, and the task keeps waiting."""
    arn = _start(stack, "Callback", "callback-bad-output")
    token = _waiting(sfn, arn)

    assert _error_code(lambda: sfn.send_task_success(taskToken=token, output="{nope")) == (
        "InvalidOutput"
    )

    sfn.send_task_success(taskToken=token, output="[1]")
    assert _finished(sfn, arn)["status"] == "SUCCEEDED"


# -- execution names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "has space",
        "tab\there",
        "new\nline",
        *(f"bad{c}char" for c in '<>{}[]?*"#%\\^|~`$&,;:/'),
        "control\u0001",
        "delete\u007f",
        "c1\u0085",
        "c1\u009f",
    ],
)
def test_start_execution_refuses_names_aws_refuses(
    stack: CraftedLambdaStack, sfn: Any, name: str
) -> None:
    """StartExecution name: no whitespace, brackets, wildcards, special or control
    characters: InvalidName."""
    machine = stack.app.state_machines["Choice"] if stack.app else ""

    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=machine, name=name, input='{"way": "left"}')

    assert raised.value.response["Error"]["Code"] == "InvalidName"
    assert raised.value.response["Error"]["Message"] == f"Invalid Name: '{name}'"


def test_start_execution_refuses_a_name_longer_than_80_characters(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """StartExecution name: 1 to 80 characters (a ValidationException beyond)."""
    machine = stack.app.state_machines["Choice"] if stack.app else ""
    name = "n" * 81

    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=machine, name=name, input='{"way": "left"}')

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 80"
    )
    started = sfn.start_execution(stateMachineArn=machine, name="n" * 80, input='{"way": "left"}')
    assert _finished(sfn, started["executionArn"])["status"] == "SUCCEEDED"


def test_names_with_allowed_punctuation_and_unicode_letters_start(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    machine = stack.app.state_machines["Choice"] if stack.app else ""

    started = sfn.start_execution(
        stateMachineArn=machine, name="web_v1.2-(blue)+é@x=1!", input='{"way": "left"}'
    )

    assert _finished(sfn, started["executionArn"])["status"] == "SUCCEEDED"


SAMPLE_SERVICE = demo_service()


@given(service_name=st.text(min_size=1, max_size=120), tag=st.text(min_size=1, max_size=128))
def test_the_products_execution_names_are_ones_step_functions_accepts(
    service_name: str, tag: str
) -> None:
    """The names the product derives (service, tag, digest) always pass StartExecution."""
    service = SAMPLE_SERVICE
    image = ImageRef(
        registry_id=ACCOUNT,
        region="us-east-1",
        repository="demo-web",
        tag=tag,
        digest="sha256:" + "ab" * 32,
    )

    name = execution_name(service.model_copy(update={"name": service_name}), image)

    assert stepfunctions.name_problem(name) is None, name


# -- error names ----------------------------------------------------------------------------


def test_a_heartbeat_expiry_is_states_heartbeat_timeout(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    """HeartbeatSeconds elapsed without SendTaskHeartbeat: States.HeartbeatTimeout."""
    arn = _start(stack, "Heartbeat", "heartbeat-expires")

    execution = _finished(sfn, arn)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.HeartbeatTimeout"
    (timed_out,) = [e for e in _history(sfn, arn) if e["type"] == "TaskTimedOut"]
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout"


@pytest.mark.parametrize("caught_as", ["HeartbeatTimeout", "Timeout"])
def test_a_heartbeat_expiry_is_caught_as_heartbeat_timeout_or_timeout(
    stack: CraftedLambdaStack, sfn: Any, caught_as: str
) -> None:
    """A Catch on States.HeartbeatTimeout, or on States.Timeout (which matches a task that
    failed to heartbeat in time too), catches it."""
    arn = _start(stack, f"HeartbeatCaughtAs{caught_as}", f"heartbeat-caught-{caught_as}")

    error = _caught(_finished(sfn, arn))

    assert error["Error"] == "States.HeartbeatTimeout"


def test_heartbeats_keep_a_task_waiting_past_heartbeat_seconds(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    arn = _start(stack, "Heartbeat", "heartbeat-kept")
    token = _waiting(sfn, arn)

    deadline = time.monotonic() + 2.5  # more than twice HeartbeatSeconds
    while time.monotonic() < deadline:
        sfn.send_task_heartbeat(taskToken=token)
        time.sleep(0.3)
    sfn.send_task_success(taskToken=token, output='{"alive": true}')

    assert _finished(sfn, arn)["status"] == "SUCCEEDED"


def test_a_choice_without_a_match_or_default_fails_with_states_no_choice_matched(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    arn = _start(stack, "Choice", "no-choice", {"way": "right"})

    execution = _finished(sfn, arn)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.NoChoiceMatched"
    assert _history(sfn, arn)[-1]["type"] == "ExecutionFailed"


# -- Lambda errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("crafted-typed-error", "DeploymentBlocked"),
        ("crafted-throttled", "Lambda.TooManyRequestsException"),
        ("crafted-service-error", "Lambda.ServiceException"),
        ("crafted-access-denied", "Lambda.AccessDeniedException"),
        ("no-such-function", "Lambda.ResourceNotFoundException"),
    ],
)
def test_lambda_errors_are_named_as_step_functions_names_them(
    stack: CraftedLambdaStack, sfn: Any, function: str, error: str
) -> None:
    """A function error keeps its errorType; a failed Invoke is Lambda.<ErrorCode>."""
    arn = _start(stack, "Invoke", f"named-{function}", {"function": function})

    assert _caught(_finished(sfn, arn))["Error"] == error


@pytest.mark.parametrize(
    ("function", "payload", "cause_prefix"),
    [
        ("crafted-sandbox-timeout", SANDBOX_TIMEOUT, ""),
        (
            "crafted-untyped-error",
            UNTYPED_ERROR,
            "The cause could not be determined because Lambda did not return an error type. "
            "Returned payload: ",
        ),
    ],
)
def test_a_timed_out_or_untyped_function_error_is_lambda_unknown_and_retried(
    stack: CraftedLambdaStack,
    sfn: Any,
    function: str,
    payload: dict[str, Any],
    cause_prefix: str,
) -> None:
    """Function timeouts and errors without an error type are Lambda.Unknown, with the
    payload as cause; a Retry on Lambda.Unknown retries them."""
    before = stack.crafted_calls.get(function, 0)
    arn = _start(stack, "Invoke", f"unknown-{function}", {"function": function})

    error = _caught(_finished(sfn, arn))

    assert error["Error"] == "Lambda.Unknown"
    assert error["Cause"].startswith(cause_prefix)
    assert json.loads(error["Cause"].removeprefix(cause_prefix)) == payload
    assert stack.crafted_calls[function] - before == 2  # the first try and one retry


def test_a_task_on_a_function_arn_names_lambda_errors_the_same_way(
    stack: CraftedLambdaStack, sfn: Any
) -> None:
    throttled = _start(stack, "InvokeByArn", "arn-throttled")
    timed_out = _start(stack, "InvokeTimedOutByArn", "arn-timed-out")

    assert _caught(_finished(sfn, throttled))["Error"] == "Lambda.TooManyRequestsException"
    assert _caught(_finished(sfn, timed_out))["Error"] == "Lambda.Unknown"
