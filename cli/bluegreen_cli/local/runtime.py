"""Functions run in worker processes of their own, the way Lambda runs them.

Each function gets execution environments of its own (``sandbox.py``): a process that loads
its handler once (its cold start) and then serves invocations one at a time, with exactly
the environment Lambda would give it: its resolved variables, region, credentials of its
own, and the local endpoint for every AWS client. An invocation takes a warm environment or
starts one, up to a cap per function; a handler that runs past the function's ``Timeout``
is stopped, and its environment with it, as on Lambda.

Errors come back as Lambda reports them (``X-Amz-Function-Error: Unhandled`` and
``{"errorType", "errorMessage", "stackTrace"}``), so a state machine's ``Catch`` on a domain
error's class name behaves as on AWS.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from bluegreen_cli.local.intrinsics import REGION
from bluegreen_cli.local.rights.identity import function_credentials
from bluegreen_cli.local.sandbox import (
    EXIT_GRACE_SECONDS,
    Answer,
    FunctionLog,
    PoolExhausted,
    Sandbox,
    SandboxPool,
    stderr_log,
)
from bluegreen_cli.local.template import LocalFunction

log = logging.getLogger(__name__)

# Environments per function at once (a reserved concurrency); more invocations wait.
# Every environment is a process whose cold start costs about half a CPU second: on a small
# machine a burst that starts many of them is slower than one that waits for warm ones
# (`python -m bench --scale 20x3` on 2 cores: 102 cold starts and 40 s with 10, 48 and
# 28-32 s with 4).
MAX_WORKERS_PER_FUNCTION = 4
# Lambda's longest run; past it a waiting invocation is throttled rather than hung.
THROTTLE_AFTER_SECONDS = 900.0
# Lambda's limit on the init phase, given on top of the function's own timeout.
INIT_LIMIT_SECONDS = 10.0


@dataclass
class Invocation:
    """What an invocation returned: the JSON payload, and the function error if any."""

    request_id: str
    payload: bytes
    function_error: str | None
    error_type: str | None
    duration_ms: float
    cold_start: bool = False
    init_ms: float = 0.0

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    total_ms: float = 0.0
    cold_starts: int = 0
    init_ms: float = 0.0


class Throttled(Exception):
    """The runtime could not take the invocation (Lambda's TooManyRequestsException)."""


class FunctionRuntime:
    """Invokes functions in execution environments of their own; counts invocations."""

    def __init__(
        self,
        functions: Mapping[str, LocalFunction],
        endpoint_url: str,
        extra_environment: Mapping[str, str] | None = None,
        *,
        max_workers: int = MAX_WORKERS_PER_FUNCTION,
        throttle_after: float = THROTTLE_AFTER_SECONDS,
        log: FunctionLog | None = None,
    ) -> None:
        self.functions = functions
        # Where what the functions print goes (their CloudWatch log).
        self.log = log or stderr_log()
        self.endpoint_url = endpoint_url
        self.extra_environment = dict(extra_environment or {})
        self.max_workers = max_workers
        self.throttle_after = throttle_after
        self._pools: dict[str, SandboxPool] = {}
        self._closed = False
        self._pools_lock = threading.Lock()
        self._stats: dict[str, FunctionStats] = {}
        self._stats_lock = threading.Lock()

    # the invocation proper

    def invoke(
        self, function: LocalFunction, event: Any, invoked_arn: str | None = None
    ) -> Invocation:
        """Run the handler on an event; never raises for the handler's own errors.

        Raises Throttled when no environment of the function became free in time.
        """
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        pool = self._pool(function)
        try:
            sandbox = pool.take(self.throttle_after)
        except PoolExhausted as e:
            raise Throttled(f"{function.name}: {e}") from e
        cold_start = sandbox is None
        init_ms = 0.0
        # Lambda's init limit comes on top of the timeout; an init past it runs on in the
        # invocation's own time.
        latest = math.inf
        answer: Answer | None = None
        try:
            if sandbox is None:
                spawned = time.monotonic()
                sandbox = Sandbox.start(function, self.environment_for(function), self.log)
                pool.add(sandbox)
                latest = spawned + INIT_LIMIT_SECONDS + function.timeout
                answer = sandbox.wait_ready(request_id, latest)
                init_ms = (time.monotonic() - spawned) * 1000
            if answer is None:
                deadline = min(time.monotonic() + function.timeout, latest)
                answer = sandbox.invoke(request_id, event, invoked_arn or function.arn, deadline)
        finally:
            pool.give_back(sandbox)
        duration_ms = (time.monotonic() - started) * 1000
        self._count(function.name, duration_ms, answer.error_type is not None, cold_start, init_ms)
        outcome = f" error {answer.error_type}" if answer.error_type else ""
        cold = f" (cold start, init {init_ms:.0f} ms)" if cold_start else ""
        log.info("invoke %s %.0f ms%s%s", function.name, duration_ms, outcome, cold)
        return Invocation(
            request_id=request_id,
            payload=answer.payload,
            function_error="Unhandled" if answer.error_type else None,
            error_type=answer.error_type,
            duration_ms=duration_ms,
            cold_start=cold_start,
            init_ms=init_ms,
        )

    def invoke_async(self, function: LocalFunction, event: Any) -> None:
        """InvocationType=Event: queued, run later, its result discarded."""

        def run() -> None:
            try:
                self.invoke(function, event)
            except Throttled as e:
                log.warning("async invoke of %s dropped: %s", function.name, e)

        threading.Thread(target=run, name=f"invoke-{function.name}", daemon=True).start()

    def _pool(self, function: LocalFunction) -> SandboxPool:
        with self._pools_lock:
            if self._closed:
                raise Throttled(f"{function.name}: the runtime is closed")
            pool = self._pools.get(function.logical_id)
            if pool is None:
                pool = self._pools[function.logical_id] = SandboxPool(self.max_workers)
            return pool

    def close(self) -> None:
        """Stop every function's environments, idle or busy; later invocations are refused."""
        with self._pools_lock:
            self._closed = True
            pools = list(self._pools.values())
        sandboxes = [sandbox for pool in pools for sandbox in pool.close()]
        # All asked at once, then each given what is left of one grace period.
        for sandbox in sandboxes:
            sandbox.close_input()
        grace = time.monotonic() + EXIT_GRACE_SECONDS
        for sandbox in sandboxes:
            sandbox.stop(grace)

    # what the function's environment holds

    def environment_for(self, function: LocalFunction) -> dict[str, str]:
        """Exactly the variables Lambda would give the function's environment."""
        # The server's own AWS_* settings (a developer's AWS_PROFILE, real credentials,
        # AWS_ENDPOINT_URL_<SERVICE>) must not reach the function: on Lambda it sees only
        # its own. Read key by key: another thread may change the server's environment.
        environment: dict[str, str] = {}
        for key in list(os.environ):
            value = os.environ.get(key)
            if value is not None and not key.startswith("AWS_"):
                environment[key] = value
        environment.update(function.environment)
        environment.update(self.extra_environment)
        day = time.strftime("%Y/%m/%d", time.gmtime())
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
                # One log stream per execution environment, as on Lambda.
                "AWS_LAMBDA_LOG_STREAM_NAME": f"{day}/[$LATEST]{uuid.uuid4().hex}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "LAMBDA_TASK_ROOT": str(function.code_dir),
                "_HANDLER": function.handler,
                # There is no X-Ray daemon locally; Powertools' switch, not a patch.
                "POWERTOOLS_TRACE_DISABLED": "true",
                # Powertools would put a filter on the root logger's handlers: kept off, as
                # when functions shared the server's process.
                "POWERTOOLS_LOG_DEDUPLICATION_DISABLED": "true",
            }
        )
        return environment

    # statistics

    def _count(
        self, name: str, duration_ms: float, failed: bool, cold_start: bool, init_ms: float
    ) -> None:
        with self._stats_lock:
            stats = self._stats.setdefault(name, FunctionStats())
            stats.invocations += 1
            stats.errors += int(failed)
            stats.total_ms += duration_ms
            stats.cold_starts += int(cold_start)
            stats.init_ms += init_ms

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            per_function = {
                name: {
                    "invocations": s.invocations,
                    "errors": s.errors,
                    "total_ms": round(s.total_ms, 1),
                    "cold_starts": s.cold_starts,
                    "init_ms": round(s.init_ms, 1),
                }
                for name, s in sorted(self._stats.items())
            }
        return {
            "invocations": sum(s["invocations"] for s in per_function.values()),
            "errors": sum(s["errors"] for s in per_function.values()),
            "cold_starts": sum(s["cold_starts"] for s in per_function.values()),
            "functions": per_function,
        }


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
