"""A function past its Timeout: stopped as Lambda stops it, seen as Step Functions sees it.

Lambda ends an invocation at the function's Timeout (``Sandbox.Timedout``, "Task timed out
after N.00 seconds"); Step Functions reports a function timeout as ``Lambda.Unknown``, which
a Retry or Catch matches. The state machine here runs as its own role, which may invoke the
function: the local stack enforces that too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from bluegreen_cli.local.server import LocalStack

from tests.unit.local.localstack_support import wait_for

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  SleepyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/sleepy/
      Handler: app.lambda_handler
      Runtime: python3.13
      Timeout: 1
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Policies:
        - LambdaInvokePolicy:
            FunctionName: !Ref SleepyFunction
      Definition:
        StartAt: Sleep
        States:
          Sleep:
            Type: Task
            Resource: arn:aws:states:::lambda:invoke
            Parameters:
              FunctionName: !GetAtt SleepyFunction.Arn
              Payload.$: $
            Catch:
              - ErrorEquals: [Lambda.Unknown]
                ResultPath: $.error
                Next: TimedOut
            End: true
          TimedOut:
            Type: Pass
            End: true
"""

HANDLER = """\
import time

def lambda_handler(event, context):
    time.sleep(30)  # far past the 1 s Timeout
    return event
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root: Path = tmp_path_factory.mktemp("timeout")
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "functions" / "sleepy").mkdir(parents=True)
    (root / "functions" / "sleepy" / "app.py").write_text(HANDLER)
    with LocalStack(port=0, project_root=root) as running:
        yield running


def test_a_function_past_its_timeout_reaches_step_functions_as_lambda_unknown(
    stack: LocalStack,
) -> None:
    sfn = stack.client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="sleep-past-timeout", input="{}")[
        "executionArn"
    ]

    done = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        timeout=30,
    )

    assert done["status"] == "SUCCEEDED"
    output = json.loads(done["output"])
    assert output["error"]["Error"] == "Lambda.Unknown"
    assert "Task timed out after 1.00 seconds" in output["error"]["Cause"]
