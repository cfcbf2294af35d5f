"""moto's ASL interpreter, patched where it names or ends things otherwise than Step Functions.

moto 5.2 runs state machines with its port of LocalStack's interpreter
(``moto.stepfunctions.parser``). Each patch here wraps one method of it, keeps the original,
is applied once per process by :func:`apply`, and says on one line which AWS behaviour it
restores. Besides the patches, this module closes executions and tasks the way the API
calls of :mod:`bluegreen_cli.local.stepfunctions` need: :func:`abort` (StopExecution) and
:func:`deliver` (the task-token callbacks).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import (
    ExecutionAbortedEventDetails,
    ExecutionFailedEventDetails,
    ExecutionStatus,
    HistoryEventType,
    LambdaFunctionFailedEventDetails,
    TaskFailedEventDetails,
    TaskTimedOutEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.choice.state_choice import StateChoice
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils import (
    LambdaFunctionErrorException,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (  # noqa: E501
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
    StateTaskLambda,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackConsumerTimeout,
    CallbackOutcomeFailure,
    CallbackOutcomeSuccess,
    HeartbeatTimeoutError,
)
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from bluegreen_cli.local.events import executions

LAMBDA_UNKNOWN = "Lambda.Unknown"
# Lambda's answers for a failure of the sandbox rather than of the function's code.
SANDBOX_ERROR_TYPES = frozenset({"Sandbox.Timedout"})
UNKNOWN_CAUSE = (
    "The cause could not be determined because Lambda did not return an error type. "
    "Returned payload: "
)
NO_CHOICE_MATCHED_CAUSE = "No Choice Rule matched and the Choice state '{name}' has no Default"

_PATCHED = "_bluegreen_patch"
_CLOSED = "_bluegreen_closed"
# Serialises what closes an execution or a task: abort, the interpreter's own ending, callbacks.
_lock = threading.RLock()


class TaskClosed(Exception):
    """The token's task is no longer waiting (answered, timed out, or its execution ended)."""


class UnknownToken(Exception):
    """No task of any execution was given this token."""


# -- applying -------------------------------------------------------------------------------


def apply() -> None:
    """Patch moto's interpreter; idempotent, for the whole process."""
    with _lock:
        _patch(StateTaskServiceLambda, "_from_error", _lambda_integration_errors)
        _patch(StateTaskLambda, "_from_error", _lambda_resource_errors)
        _patch(StateTaskServiceCallback, "_from_error", _heartbeat_timeout)
        _patch(StateChoice, "_eval_state", _no_choice_matched)
        _patch(ExecutionState, "_evaluate_with_timeout", _attempts)
        _patch(BaseExecutionWorkerCommunication, "terminated", _keep_closed_executions)


def _patch(cls: type, name: str, wrap: Callable[[Any], Any]) -> None:
    if getattr(cls.__dict__.get(name), _PATCHED, False):
        return
    patched = wrap(getattr(cls, name))
    setattr(patched, _PATCHED, True)
    setattr(cls, name, patched)


# -- error names ----------------------------------------------------------------------------


def _lambda_integration_errors(original: Any) -> Any:
    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        # Step Functions reports a function error without an error type, or a sandbox
        # timeout, as Lambda.Unknown (lambda:invoke integration).
        cause = _unknown_function_error(ex)
        if cause is None:
            return original(self, env, ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(LAMBDA_UNKNOWN),
            event_type=HistoryEventType.TaskFailed,
            event_details=_details(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=LAMBDA_UNKNOWN,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    return _from_error


def _lambda_resource_errors(original: Any) -> Any:
    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        # A Task whose Resource is a function ARN: Lambda.Unknown as above, and a failed
        # Invoke call is Lambda.<ErrorCode> (moto names it "Exception").
        cause = _unknown_function_error(ex)
        if cause is not None:
            error = LAMBDA_UNKNOWN
        elif isinstance(ex, ClientError):
            error, cause = StateTaskServiceLambda._error_cause_from_client_error(ex)
        else:
            return original(self, env, ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=_details(
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                    error=error, cause=cause
                )
            ),
        )

    return _from_error


def _unknown_function_error(ex: Exception) -> str | None:
    """The cause Step Functions gives a function error it reports as Lambda.Unknown; None
    for an error that keeps its own name."""
    if not isinstance(ex, LambdaFunctionErrorException):
        return None
    payload = str(ex.payload)
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    error_type = document.get("errorType") if isinstance(document, dict) else None
    if isinstance(error_type, str) and error_type:
        return payload if error_type in SANDBOX_ERROR_TYPES else None
    return UNKNOWN_CAUSE + payload


class _HeartbeatTimeoutName(StatesErrorName):
    """States.HeartbeatTimeout, which a Retry or Catch on States.Timeout matches too."""

    def __init__(self) -> None:
        super().__init__(typ=StatesErrorNameType.StatesHeartbeatTimeout)

    def matches(self, error_name: str | None) -> bool:
        return error_name in (self.error_name, StatesErrorNameType.StatesTimeout.to_name())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ErrorName) and self.matches(other.error_name)

    __hash__ = None  # type: ignore[assignment]


def _heartbeat_timeout(original: Any) -> Any:
    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        # No heartbeat within HeartbeatSeconds: States.HeartbeatTimeout (moto: States.Timeout).
        if not isinstance(ex, HeartbeatTimeoutError):
            return original(self, env, ex)
        name = _HeartbeatTimeoutName()
        return FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.TaskTimedOut,
            event_details=_details(
                taskTimedOutEventDetails=TaskTimedOutEventDetails(
                    resourceType=self._get_sfn_resource_type(),
                    resource=self._get_sfn_resource(),
                    error=name.error_name,
                )
            ),
        )

    return _from_error


def _no_choice_matched(original: Any) -> Any:
    def _eval_state(self: Any, env: Any) -> None:
        # A Choice state with no matching rule and no Default fails with States.NoChoiceMatched.
        try:
            original(self, env)
        except RuntimeError as e:
            reached_no_state = bool(e.args) and str(e.args[0]).startswith("No branching option")
            if self.default_state is not None or not reached_no_state:
                raise
            error = StatesErrorNameType.StatesNoChoiceMatched.to_name()
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesNoChoiceMatched),
                    event_type=HistoryEventType.ExecutionFailed,
                    event_details=_details(
                        executionFailedEventDetails=ExecutionFailedEventDetails(
                            error=error, cause=NO_CHOICE_MATCHED_CAUSE.format(name=self.name)
                        )
                    ),
                )
            ) from None

    return _eval_state


# -- task attempts and tokens -----------------------------------------------------------------


def _attempts(original: Any) -> Any:
    def _evaluate_with_timeout(self: Any, env: Any) -> None:
        waits_for_token = _waits_for_task_token(self)
        if waits_for_token:
            # Each attempt (a Retry's too) has a token of its own; moto reuses the first.
            _fresh_task_token(env)
        try:
            original(self, env)
        except Exception:
            if env.is_running():
                raise
            # Stopped or timed out meanwhile: Step Functions records nothing more.
        finally:
            if waits_for_token:
                # The attempt is over: its token answers TaskTimedOut from now on.
                _close_task(env.callback_pool_manager.get(_task_token(env)))

    return _evaluate_with_timeout


def _waits_for_task_token(state: Any) -> bool:
    resource = getattr(state, "resource", None)
    return (
        isinstance(state, StateTaskServiceCallback)
        and getattr(resource, "condition", None) == ResourceCondition.WaitForTaskToken
    )


def _task_token(env: Any) -> str | None:
    task = env.states.context_object.context_object_data.get("Task") or {}
    token = task.get("Token")
    return str(token) if token else None


def _fresh_task_token(env: Any) -> None:
    with _lock:
        token = _task_token(env)
        endpoint = env.callback_pool_manager.get(token) if token else None
        if endpoint is None or endpoint.consumer_error is not None:
            env.callback_pool_manager.add(env.states.context_object.update_task_token())


def _close_task(endpoint: Any) -> None:
    if endpoint is None:
        return
    with _lock:
        if endpoint.consumer_error is None:
            endpoint.report(CallbackConsumerTimeout())
    endpoint.interrupt_all()  # wakes the attempt's waiting threads


def deliver(
    token: str,
    *,
    output: str | None = None,
    error: str | None = None,
    cause: str | None = None,
    heartbeat: bool = False,
) -> None:
    """SendTaskSuccess (``output``), SendTaskFailure (``error``, ``cause``) or
    SendTaskHeartbeat (``heartbeat``) for the task waiting with ``token``.

    Raises :class:`UnknownToken` or :class:`TaskClosed`.
    """
    with _lock:
        endpoint = _waiting_task(token)
        if heartbeat:
            endpoint.notify_heartbeat()  # a task without HeartbeatSeconds accepts it too
        elif output is not None:
            endpoint.notify(CallbackOutcomeSuccess(callback_id=token, output=output))
        else:
            endpoint.notify(CallbackOutcomeFailure(callback_id=token, error=error, cause=cause))


def _waiting_task(token: str) -> Any:
    for execution in executions():
        env = getattr(getattr(execution, "exec_worker", None), "env", None)
        endpoint = env.callback_pool_manager.get(token) if env is not None else None
        if endpoint is None:
            continue
        if (
            execution.exec_status != ExecutionStatus.RUNNING
            or endpoint.consumer_error is not None
            or endpoint.get_outcome() is not None
        ):
            raise TaskClosed(token)
        return endpoint
    raise UnknownToken(token)


# -- closing executions -----------------------------------------------------------------------


def _keep_closed_executions(original: Any) -> Any:
    def terminated(self: Any) -> None:
        # An aborted execution stays as StopExecution left it, whatever its threads do after.
        with _lock:
            if getattr(self.execution, _CLOSED, False):
                return
            original(self)
        # An execution that ended (timed out, say) leaves no task waiting for a callback.
        _close_tasks(self.execution.exec_worker.env)

    return terminated


def _close_tasks(env: Any) -> None:
    for endpoint in list(env.callback_pool_manager._pool.values()):
        _close_task(endpoint)


def abort(execution: Any, error: str | None, cause: str | None) -> datetime | None:
    """Abort a running execution now, as StopExecution does; its stop date, or None when
    it is not running (or not started far enough to be stopped here)."""
    env = _environment(execution)
    if env is None:
        return None
    with _lock:
        if execution.exec_status != ExecutionStatus.RUNNING:
            return None
        now = datetime.now(UTC)
        stop_date = now.replace(microsecond=now.microsecond // 1000 * 1000)  # AWS keeps ms
        setattr(execution, _CLOSED, True)
        manager = env.event_manager
        # ExecutionAborted is the history's last event: whatever the stopped threads still
        # do records nothing.
        manager.add_event = _record_nothing
        env.set_stop(stop_date=stop_date, cause=cause, error=error)
        details = ExecutionAbortedEventDetails()
        if error is not None:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        env.event_history_context.source_event_id = 0
        EventManager.add_event(
            manager,
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionAborted,
            event_details=_details(executionAbortedEventDetails=details),
        )
        execution.exec_status = ExecutionStatus.ABORTED
        execution.stop_date = stop_date
        execution.error = error
        execution.cause = cause
    _close_tasks(env)
    return stop_date


def _environment(execution: Any, timeout: float = 2.0) -> Any:
    """The execution's interpreter environment, which its worker thread creates first thing."""
    deadline = time.monotonic() + timeout
    while True:
        env = getattr(getattr(execution, "exec_worker", None), "env", None)
        if env is not None or time.monotonic() > deadline:
            return env
        time.sleep(0.01)


def _details(**details: Any) -> Any:
    """The interpreter's EventDetails: a dict holding one event's details (a TypedDict whose
    keys moto's stubs all require)."""
    return dict(details)


def _record_nothing(*args: Any, **kwargs: Any) -> int:
    return 0
