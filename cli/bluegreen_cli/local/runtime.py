"""Functions run in-process, the way Lambda runs them.

A function's ``app.py`` is loaded once (its cold start) under a module name of its own (all
handlers are called ``app.py``) and kept; each invocation calls its handler with a
Lambda-like context while the process environment holds what Lambda would give it: the
function's resolved environment, region, credentials, and the local endpoint for every AWS
client.

Errors come back as Lambda reports them (``X-Amz-Function-Error: Unhandled`` and
``{"errorType", "errorMessage", "stackTrace"}``), so a state machine's ``Catch`` on a domain
error's class name behaves as on AWS.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from werkzeug.wrappers import Request, Response

from bluegreen_cli.local.intrinsics import REGION
from bluegreen_cli.local.rights.identity import function_credentials
from bluegreen_cli.local.template import LocalFunction

log = logging.getLogger(__name__)

# Invocations share one process environment (os.environ is global). Running them one at a
# time, each with exactly its own environment, keeps one function's TABLE_NAME or region
# from leaking into another's clients; it costs nothing here, where the interesting waits
# happen in Step Functions Wait states and not inside handlers.
_INVOKE_LOCK = threading.Lock()
# Lambda's longest run; past it a waiting invocation is throttled rather than hung.
_LOCK_WAIT_SECONDS = 900.0


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's Python context object."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            day = time.strftime("%Y/%m/%d", time.gmtime())
            self.log_stream_name = f"{day}/[$LATEST]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """What an invocation returned: the JSON payload, and the function error if any."""

    request_id: str
    payload: bytes
    function_error: str | None
    error_type: str | None
    duration_ms: float

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    total_ms: float = 0.0


class Throttled(Exception):
    """The runtime could not take the invocation (Lambda's TooManyRequestsException)."""


class FunctionRuntime:
    """Loads and invokes functions in-process; counts invocations."""

    def __init__(
        self,
        functions: Mapping[str, LocalFunction],
        endpoint_url: str,
        extra_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.functions = functions
        self.endpoint_url = endpoint_url
        self.extra_environment = dict(extra_environment or {})
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._modules: dict[str, dict[str, ModuleType]] = {}
        self._stats: dict[str, FunctionStats] = {}
        self._stats_lock = threading.Lock()

    # the invocation proper

    def invoke(
        self, function: LocalFunction, event: Any, invoked_arn: str | None = None
    ) -> Invocation:
        """Run the handler on an event; never raises for the handler's own errors."""
        request_id = str(uuid.uuid4())
        if not _INVOKE_LOCK.acquire(timeout=_LOCK_WAIT_SECONDS):
            raise Throttled(f"{function.name} waited {_LOCK_WAIT_SECONDS:.0f} s for the runtime")
        started = time.monotonic()
        try:
            with (
                _environment(self._environment_for(function)),
                self._own_modules(function),
            ):
                payload, error_type = self._run(function, event, request_id, invoked_arn)
        finally:
            _INVOKE_LOCK.release()
        duration_ms = (time.monotonic() - started) * 1000
        self._count(function.name, duration_ms, error_type is not None)
        if error_type:
            log.info("invoke %s %.0f ms error %s", function.name, duration_ms, error_type)
        else:
            log.info("invoke %s %.0f ms", function.name, duration_ms)
        if duration_ms > function.timeout * 1000:
            log.warning(
                "%s ran %.1f s, past its %d s timeout (Lambda would have stopped it)",
                function.name,
                duration_ms / 1000,
                function.timeout,
            )
        return Invocation(
            request_id=request_id,
            payload=payload,
            function_error="Unhandled" if error_type else None,
            error_type=error_type,
            duration_ms=duration_ms,
        )

    def invoke_async(self, function: LocalFunction, event: Any) -> None:
        """InvocationType=Event: queued, run later, its result discarded."""

        def run() -> None:
            try:
                self.invoke(function, event)
            except Throttled as e:
                log.warning("async invoke of %s dropped: %s", function.name, e)

        threading.Thread(target=run, name=f"invoke-{function.name}", daemon=True).start()

    def _run(
        self, function: LocalFunction, event: Any, request_id: str, invoked_arn: str | None
    ) -> tuple[bytes, str | None]:
        try:
            handler = self._handler(function)
        except _InitError as e:
            return _error_payload(e.error_type, str(e), request_id, e.trace), e.error_type
        context = LambdaContext(
            function_name=function.name,
            invoked_function_arn=invoked_arn or function.arn,
            memory_limit_in_mb=function.memory_size,
            aws_request_id=request_id,
            timeout_seconds=function.timeout,
        )
        try:
            result = handler(event, context)
        except Exception as e:
            trace = traceback.format_list(traceback.extract_tb(e.__traceback__)[1:])
            error_type = type(e).__name__
            return _error_payload(error_type, str(e), request_id, trace), error_type
        try:
            return json.dumps(result).encode("utf-8"), None
        except (TypeError, ValueError) as e:
            message = f"Unable to marshal response: {e}"
            return _error_payload("Runtime.MarshalError", message, request_id, []), (
                "Runtime.MarshalError"
            )

    # loading (the cold start)

    def _handler(self, function: LocalFunction) -> Callable[[Any, Any], Any]:
        handler = self._handlers.get(function.logical_id)
        if handler is None:
            handler = _load_handler(function)
            self._handlers[function.logical_id] = handler
        return handler

    @contextmanager
    def _own_modules(self, function: LocalFunction) -> Iterator[None]:
        """The function's own copies of its layer and code modules in sys.modules.

        On Lambda every function has a process of its own, so module state (cached clients
        and settings, Powertools' cold start flag) is per function. Here the modules from
        the function's layers and code directory are swapped in for its invocations only.
        """
        roots = _top_level_names((*function.layer_dirs, function.code_dir))
        outside = {name: m for name, m in sys.modules.items() if name.split(".")[0] in roots}
        for name in outside:
            del sys.modules[name]
        sys.modules.update(self._modules.get(function.logical_id, {}))
        try:
            yield
        finally:
            own = {name: m for name, m in sys.modules.items() if name.split(".")[0] in roots}
            for name in own:
                del sys.modules[name]
            self._modules[function.logical_id] = own
            sys.modules.update(outside)

    def _environment_for(self, function: LocalFunction) -> dict[str, str]:
        # The server's own AWS_* settings (a developer's AWS_PROFILE, real credentials,
        # AWS_ENDPOINT_URL_<SERVICE>) must not reach the function: on Lambda it sees only
        # its own.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment.update(function.environment)
        environment.update(self.extra_environment)
        environment.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                # The function's own credentials: its calls are authorized as its role.
                **function_credentials(function.logical_id),
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "LAMBDA_TASK_ROOT": str(function.code_dir),
                "_HANDLER": function.handler,
                # There is no X-Ray daemon locally; Powertools' switch, not a patch.
                "POWERTOOLS_TRACE_DISABLED": "true",
                # Powertools would put a filter on the root logger's handlers, which here are
                # the server's own, muting every logger whose name contains the service name.
                "POWERTOOLS_LOG_DEDUPLICATION_DISABLED": "true",
            }
        )
        return environment

    # statistics

    def _count(self, name: str, duration_ms: float, failed: bool) -> None:
        with self._stats_lock:
            stats = self._stats.setdefault(name, FunctionStats())
            stats.invocations += 1
            stats.errors += int(failed)
            stats.total_ms += duration_ms

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            per_function = {
                name: {
                    "invocations": s.invocations,
                    "errors": s.errors,
                    "total_ms": round(s.total_ms, 1),
                }
                for name, s in sorted(self._stats.items())
            }
        return {
            "invocations": sum(s["invocations"] for s in per_function.values()),
            "errors": sum(s["errors"] for s in per_function.values()),
            "functions": per_function,
        }


class _InitError(Exception):
    """The handler could not be loaded (Lambda's Runtime.* init errors)."""

    def __init__(self, error_type: str, message: str, trace: list[str]) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.trace = trace


def _load_handler(function: LocalFunction) -> Callable[[Any, Any], Any]:
    module_path, _, attribute = function.handler.rpartition(".")
    source = function.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    module_name = f"_bluegreen_fn_{function.logical_id}_{module_path.replace('.', '_')}"
    for layer in function.layer_dirs:
        # Lambda puts layers on sys.path (/opt/python); they are shared code, so they stay.
        if str(layer) not in sys.path:
            sys.path.append(str(layer))
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None or not source.is_file():
        raise _InitError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_path}': no such file {source}",
            [],
        )
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # The code directory (/var/task on Lambda) is on the path while the module loads, for
    # its sibling imports.
    sys.path.insert(0, str(function.code_dir))
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[module_name]
        trace = traceback.format_list(traceback.extract_tb(e.__traceback__))
        raise _InitError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_path}': {e}",
            trace,
        ) from e
    finally:
        sys.path.remove(str(function.code_dir))
    handler = getattr(module, attribute, None)
    if not callable(handler):
        del sys.modules[module_name]
        raise _InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{attribute}' missing on module '{module_path}'",
            [],
        )
    log.debug("cold start %s from %s", function.name, source)
    return handler  # type: ignore[no-any-return]


def _top_level_names(directories: Iterable[Path]) -> set[str]:
    """Importable top-level modules and packages found in code directories."""
    names: set[str] = set()
    for directory in directories:
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if entry.suffix == ".py":
                names.add(entry.stem)
            elif entry.is_dir() and (entry / "__init__.py").is_file():
                names.add(entry.name)
    return names


def _error_payload(error_type: str, message: str, request_id: str, trace: list[str]) -> bytes:
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": trace,
        }
    ).encode("utf-8")


class _SnapshotEnviron(os._Environ[str]):
    """``os.environ`` whose ``items()`` is one atomic copy.

    Invocations swap variables in and out while other threads keep reading: every botocore
    or urllib request walks ``os.environ.items()`` for proxy settings, and the stock walk
    lists the keys first and reads each after, so a key removed in between raised KeyError
    in that thread (moto's ASL engine reported it as States.Runtime).
    """

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        data = self._data.copy()  # type: ignore[attr-defined]  # CPython's private store
        return [(self.decodekey(k), self.decodevalue(v)) for k, v in data.items()]

    def copy(self) -> dict[str, str]:
        return dict(self.items())


def _snapshot_safe_environ() -> None:
    if not isinstance(os.environ, _SnapshotEnviron):
        os.environ.__class__ = _SnapshotEnviron


@contextmanager
def _environment(wanted: Mapping[str, str]) -> Iterator[None]:
    """os.environ exactly ``wanted`` inside, restored after.

    Keys are changed one by one (never cleared wholesale), so server threads reading a
    variable both sides agree on (MOTO_PORT, say) never see it missing.
    """
    _snapshot_safe_environ()
    saved = os.environ.copy()
    _become(wanted)
    try:
        yield
    finally:
        _become(saved)


def _become(wanted: Mapping[str, str]) -> None:
    for key in [k for k in os.environ if k not in wanted]:
        # pop, not del: another thread (a test runner's env isolation, say) may have
        # removed it between the listing and here.
        os.environ.pop(key, None)
    for key, value in wanted.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


# -- the Lambda Invoke API -------------------------------------------------------------

INVOKE_PATH_PREFIX = "/2015-03-31/functions/"


def invoke_function_name(path: str) -> str | None:
    """The FunctionName in ``/2015-03-31/functions/<name>/invocations``, if it is that."""
    if not path.startswith(INVOKE_PATH_PREFIX) or not path.endswith("/invocations"):
        return None
    return path[len(INVOKE_PATH_PREFIX) : -len("/invocations")] or None


def _lambda_error(status: int, error_type: str, message: str) -> Response:
    return Response(
        json.dumps({"Type": "User", "Message": message}),
        status=status,
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


def serve_invoke(runtime: FunctionRuntime, function: LocalFunction, request: Request) -> Response:
    """Answer ``POST /2015-03-31/functions/<name>/invocations`` as Lambda does."""
    invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    body = request.get_data()
    try:
        event = json.loads(body) if body.strip() else {}
    except ValueError:
        return _lambda_error(
            400,
            "InvalidRequestContentException",
            "Could not parse request body into json: the payload is not valid JSON",
        )
    if invocation_type == "DryRun":
        return Response(status=204)
    if invocation_type == "Event":
        runtime.invoke_async(function, event)
        return Response(status=202, headers={"X-Amz-Executed-Version": "$LATEST"})
    try:
        result = runtime.invoke(function, event)
    except Throttled as e:
        return _lambda_error(429, "TooManyRequestsException", str(e))
    headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": result.request_id}
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    return Response(result.payload, status=200, content_type="application/json", headers=headers)
