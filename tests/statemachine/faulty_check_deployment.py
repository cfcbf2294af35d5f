"""CheckDeployment with faults injected once production traffic has moved (a test fixture).

Copied over ``functions/check_deployment/app.py`` in a copy of the project, it runs the real
step, except that an invocation that finds the deployment in its termination wait (traffic
fully on green, healthy) first takes the next fault off the list in the JSON file named by
``BLUEGREEN_TEST_FAULTS`` and suffers it:

- ``timeout``: the handler outlives its function's Timeout (Lambda reports ``Sandbox.Timedout``,
  Step Functions ``Lambda.Unknown``);
- ``throttle``: CodeDeploy answers ``ThrottlingException`` to the step's GetDeployment;
- ``deny``: CodeDeploy answers ``AccessDeniedException`` (a poll that no retry mends).

Each fault taken is appended to the file's ``suffered`` list, so a test can tell what happened.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.models import DeploymentState
from bluegreen.steps.deployment import check

_FAULTS = Path(os.environ["BLUEGREEN_TEST_FAULTS"])
_ANSWERS = {
    "throttle": ("ThrottlingException", "Rate exceeded"),
    "deny": ("AccessDeniedException", "not authorized to perform: codedeploy:GetDeployment"),
}


class _Answer:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


def _next_fault() -> str | None:
    plan = json.loads(_FAULTS.read_text())
    if not plan["faults"]:
        return None
    fault = str(plan["faults"].pop(0))
    plan["suffered"].append(fault)
    _FAULTS.write_text(json.dumps(plan))
    return fault


def _answer_once(code: str, message: str) -> None:
    """The step's next GetDeployment is answered with ``code``, as CodeDeploy answers."""
    events = wiring.deployments()._cd.meta.events  # the test reaches into the adapter
    name = "before-call.codedeploy.GetDeployment"

    def answer(**_: Any) -> tuple[_Answer, dict[str, Any]]:
        events.unregister(name, answer)
        error = {"Error": {"Code": code, "Message": message}}
        return _Answer(400), {**error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    events.register(name, answer)


def _faulty(state: DeploymentState, now: Any) -> DeploymentState:
    progress = state.deployment
    if progress is not None and progress.continued_at is not None:
        info = wiring.deployments().get(progress.deployment_id)
        fault = _next_fault() if info.get("instanceTerminationWaitTimeStarted") else None
        if fault == "timeout":
            time.sleep(600)
        elif fault in _ANSWERS:
            _answer_once(*_ANSWERS[fault])
    return check(state, wiring.deployments(), now)


lambda_handler = state_step(_faulty)
