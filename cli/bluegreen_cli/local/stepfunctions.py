"""Step Functions API answers given locally where moto's differ from AWS's.

The server hands :func:`intercept` every Step Functions call named in :data:`INTERCEPTED`
before moto sees it; ``None`` lets moto answer. :func:`install` patches moto's interpreter
(:mod:`bluegreen_cli.local.stepfunctions_engine`) once a stack starts.

- ``StartExecution``: execution names are validated as AWS validates them.
- ``StopExecution``: a running execution is aborted at once, even one waiting for a task
  token, keeping the given error and cause; the answer carries ``stopDate``.
- ``SendTaskSuccess``, ``SendTaskFailure``, ``SendTaskHeartbeat``: ``TaskTimedOut`` for a
  task that is no longer waiting, ``InvalidToken`` for a token no task was given; a failure
  keeps its cause (moto drops it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bluegreen_cli.local.events import executions

PREFIX = "AWSStepFunctions."
START_EXECUTION = PREFIX + "StartExecution"
STOP_EXECUTION = PREFIX + "StopExecution"
SEND_TASK_SUCCESS = PREFIX + "SendTaskSuccess"
SEND_TASK_FAILURE = PREFIX + "SendTaskFailure"
SEND_TASK_HEARTBEAT = PREFIX + "SendTaskHeartbeat"

NAME_MAX_LENGTH = 80
# StartExecution's name: no whitespace, brackets, wildcards or these special characters.
_FORBIDDEN_IN_NAMES = frozenset(' <>{}[]?*"#%\\^|~`$&,;:/')

Answer = tuple[int, dict[str, Any]]


def install() -> None:
    """Patch moto's interpreter (once per process)."""
    from bluegreen_cli.local import stepfunctions_engine

    stepfunctions_engine.apply()


def intercept(target: str, body: dict[str, Any]) -> Answer | None:
    """The answer to a Step Functions call, or None to let moto answer it."""
    handler = _HANDLERS.get(target)
    return handler(body) if handler is not None else None


def _error(code: str, message: str) -> Answer:
    return 400, {"__type": code, "message": message}


# -- StartExecution -------------------------------------------------------------------------


def name_problem(name: str) -> Answer | None:
    """Why Step Functions refuses this execution name, as it answers; None if it takes it."""
    if len(name) > NAME_MAX_LENGTH:
        return _error(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
            f"constraint: Member must have length less than or equal to {NAME_MAX_LENGTH}",
        )
    if not name:
        return _error(
            "ValidationException",
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1",
        )
    if any(_forbidden_in_name(c) for c in name):
        return _error("InvalidName", f"Invalid Name: '{name}'")
    return None


def _forbidden_in_name(char: str) -> bool:
    code = ord(char)
    return (
        char in _FORBIDDEN_IN_NAMES
        or char.isspace()
        or code <= 0x1F
        or 0x7F <= code <= 0x9F  # control characters
        or 0xD800 <= code <= 0xDFFF  # surrogates
        or code in (0xFFFE, 0xFFFF)
    )


def _start_execution(body: dict[str, Any]) -> Answer | None:
    name = body.get("name")
    if name is None:
        return None  # Step Functions names it (a UUID)
    return name_problem(str(name))


# -- StopExecution --------------------------------------------------------------------------


def _stop_execution(body: dict[str, Any]) -> Answer | None:
    from bluegreen_cli.local import stepfunctions_engine as engine

    arn = str(body.get("executionArn") or "")
    execution = next((e for e in executions() if e.execution_arn == arn), None)
    if execution is None:
        return None  # moto answers ExecutionDoesNotExist / InvalidArn
    stop_date = engine.abort(execution, _optional(body, "error"), _optional(body, "cause"))
    if stop_date is None:
        return None  # not running: moto answers with the stop date it has
    return 200, {"stopDate": stop_date}


# -- task-token callbacks -------------------------------------------------------------------


def _send_task_success(body: dict[str, Any]) -> Answer:
    output = str(body.get("output", ""))
    try:
        json.loads(output)
    except ValueError as e:
        return _error("InvalidOutput", f"Invalid State Machine Execution Output: '{e}'")
    return _callback(body, output=output)


def _send_task_failure(body: dict[str, Any]) -> Answer:
    return _callback(body, error=_optional(body, "error"), cause=_optional(body, "cause"))


def _send_task_heartbeat(body: dict[str, Any]) -> Answer:
    return _callback(body, heartbeat=True)


def _callback(body: dict[str, Any], **outcome: Any) -> Answer:
    from bluegreen_cli.local import stepfunctions_engine as engine

    try:
        engine.deliver(str(body.get("taskToken") or ""), **outcome)
    except engine.UnknownToken:
        return _error("InvalidToken", "Invalid Token: 'Invalid token'")
    except engine.TaskClosed:
        return _error("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
    return 200, {}


def _optional(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return None if value is None else str(value)


_HANDLERS: dict[str, Callable[[dict[str, Any]], Answer | None]] = {
    START_EXECUTION: _start_execution,
    STOP_EXECUTION: _stop_execution,
    SEND_TASK_SUCCESS: _send_task_success,
    SEND_TASK_FAILURE: _send_task_failure,
    SEND_TASK_HEARTBEAT: _send_task_heartbeat,
}
INTERCEPTED = frozenset(_HANDLERS)
