"""Execution environments: one function's worker processes, and the pool that keeps them warm.

A :class:`Sandbox` is one process running ``worker.py`` for one function (Lambda's execution
environment); it answers one invocation at a time, within the function's timeout, or is
killed. A :class:`SandboxPool` holds one function's sandboxes: an invocation takes a warm
one, or a slot to start a new one, up to a cap.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bluegreen_cli.local.template import LocalFunction

WORKER_PROGRAM = Path(__file__).with_name("worker.py")

# How long a sandbox may take to leave once its input is closed, before it is killed.
EXIT_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Answer:
    """What Lambda answers for one invocation: the payload, and the error type if any."""

    payload: bytes
    error_type: str | None


def _platform_error(error_type: str, message: str) -> Answer:
    """An error raised by Lambda itself rather than by the function's runtime."""
    document = {"errorType": error_type, "errorMessage": message}
    return Answer(json.dumps(document).encode("utf-8"), error_type)


def _exit_status(returncode: int) -> str:
    # Lambda words it like Go's os.ProcessState: "exit status 3", "signal: killed".
    if returncode < 0:
        name = signal.strsignal(-returncode) or f"signal {-returncode}"
        return f"signal: {name.lower()}"
    return f"exit status {returncode}"


FunctionLog = Callable[[str], object]


def stderr_log() -> FunctionLog:
    """The default home of a function's log: stderr as it is when the stack starts.

    Bound then, not at each line: a command that captures its own stdout or stderr while
    the stack runs (a test's CLI runner, say) must not receive lines of functions it never
    called. And never stdout, which belongs to a command's own answer (its ``--json``).
    """
    stream = sys.stderr

    def write(line: str) -> None:
        stream.write(line)
        stream.flush()

    return write


def _relay_log(process: subprocess.Popen[bytes], log: FunctionLog) -> None:
    """The function's log (all it prints), line by line, to where the stack keeps it."""
    assert process.stderr is not None
    with process.stderr:
        for line in process.stderr:
            # A closed log stream loses the line, not the worker.
            with contextlib.suppress(OSError, ValueError):
                log(line.decode("utf-8", "replace"))


class Sandbox:
    """One worker process holding one function's loaded handler."""

    def __init__(self, function: LocalFunction, process: subprocess.Popen[bytes]) -> None:
        self.function = function
        self._process = process
        self._timed_out = False

    @classmethod
    def start(
        cls,
        function: LocalFunction,
        environment: Mapping[str, str],
        log: FunctionLog | None = None,
    ) -> Sandbox:
        """Start the worker (its cold start begins); :meth:`wait_ready` waits for its end."""
        code_dir = function.code_dir if function.code_dir.is_dir() else None
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and program
            [sys.executable, "-I", str(WORKER_PROGRAM), *map(str, function.layer_dirs)],
            env=dict(environment),
            cwd=code_dir,  # /var/task on Lambda
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own session: a Ctrl-C meant for the server does not reach functions; they
            # leave when the server closes their input (or dies).
            start_new_session=True,
        )
        sandbox = cls(function, process)
        threading.Thread(
            target=_relay_log,
            args=(process, log or stderr_log()),
            name=f"log-{function.name}",
            daemon=True,
        ).start()
        return sandbox

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def wait_ready(self, request_id: str, deadline: float) -> Answer | None:
        """None once the handler is loaded; else what the invocation answers (init failed)."""
        message = self._receive(deadline)
        if message is None:
            return self._lost(request_id)
        if "init_error" in message:
            self.stop()
            self._close_output()
            # As the runtime reported it, before any invocation: its requestId is empty.
            error = message["init_error"]
            return Answer(json.dumps(error).encode("utf-8"), str(error["errorType"]))
        return None

    def invoke(self, request_id: str, event: Any, invoked_arn: str, deadline: float) -> Answer:
        """Run the handler on ``event``; killed (and answered as Lambda does) at ``deadline``."""
        request = {
            "request_id": request_id,
            "event": event,
            "invoked_function_arn": invoked_arn,
            # Lambda-Runtime-Deadline-Ms: epoch milliseconds, for get_remaining_time_in_millis
            "deadline_ms": int((time.time() + deadline - time.monotonic()) * 1000),
        }
        try:
            stdin = self._stdin()
            stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            stdin.flush()
        except (OSError, ValueError):
            pass  # the worker is gone: reading says how it ended
        message = self._receive(deadline)
        if message is None:
            return self._lost(request_id)
        return Answer(str(message["payload"]).encode("utf-8"), message["error_type"])

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The worker's next message; None if it exited, or was killed at ``deadline``."""
        assert self._process.stdout is not None
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._time_out)
        timer.daemon = True
        timer.start()
        try:
            line = self._process.stdout.readline()
        finally:
            timer.cancel()
        if not line:
            return None
        try:
            message: dict[str, Any] = json.loads(line)
        except ValueError:
            self.kill()
            return None
        return message

    def _time_out(self) -> None:
        self._timed_out = True
        self.kill()

    def _lost(self, request_id: str) -> Answer:
        """The answer for a worker that ended without one: timed out, or crashed."""
        returncode = self._reap()
        self._close_output()
        if self._timed_out:
            return _platform_error(
                "Sandbox.Timedout",
                f"RequestId: {request_id} Error: Task timed out after "
                f"{self.function.timeout:.2f} seconds",
            )
        return _platform_error(
            "Runtime.ExitError",
            f"RequestId: {request_id} Error: Runtime exited with error: {_exit_status(returncode)}",
        )

    def _stdin(self) -> IO[bytes]:
        assert self._process.stdin is not None
        return self._process.stdin

    # ending

    def close_input(self) -> None:
        """Ask the worker to leave (it exits when its input closes)."""
        with contextlib.suppress(OSError):
            self._stdin().close()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._process.kill()

    def stop(self, deadline: float | None = None) -> None:
        """Close its input, give it until ``deadline`` to leave, then kill it; reaped."""
        self._reap(deadline)

    def _reap(self, deadline: float | None = None) -> int:
        self.close_input()
        wait = EXIT_GRACE_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return self._process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.kill()
            return self._process.wait()

    def _close_output(self) -> None:
        # Only from the thread that reads it (the invocation's), never while it reads.
        if self._process.stdout is not None:
            self._process.stdout.close()


class PoolExhausted(Exception):
    """No sandbox became free in time, or the pool is closed."""


class SandboxPool:
    """One function's sandboxes: warm ones are reused; new ones start up to ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._idle: list[Sandbox] = []
        self._all: set[Sandbox] = set()
        self._slots = 0  # sandboxes live or starting
        self._closed = False
        self._changed = threading.Condition()

    def take(self, wait: float) -> Sandbox | None:
        """A warm sandbox, or None: a slot is reserved and the caller starts a new one.

        With every slot busy it waits up to ``wait`` seconds for one to come back.
        """
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                if self._closed:
                    raise PoolExhausted("the runtime is closed")
                while self._idle:
                    # The most recently used first, as Lambda reuses the warmest environment.
                    sandbox = self._idle.pop()
                    if sandbox.alive:
                        return sandbox
                    self._forget(sandbox)
                if self._slots < self.capacity:
                    self._slots += 1
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolExhausted(
                        f"all {self.capacity} execution environments stayed busy for {wait:.0f} s"
                    )
                self._changed.wait(remaining)

    def add(self, sandbox: Sandbox) -> None:
        """A sandbox started in a slot from :meth:`take`."""
        with self._changed:
            self._all.add(sandbox)
            closed = self._closed
        if closed:
            sandbox.kill()

    def give_back(self, sandbox: Sandbox | None) -> None:
        """After an invocation: kept warm if it still runs; else its slot is freed."""
        with self._changed:
            if sandbox is not None and sandbox.alive and not self._closed:
                self._idle.append(sandbox)
            elif sandbox is None:
                self._slots -= 1
            else:
                self._forget(sandbox)
            self._changed.notify()

    def _forget(self, sandbox: Sandbox) -> None:
        self._all.discard(sandbox)
        self._slots -= 1

    def close(self) -> list[Sandbox]:
        """Refuse new invocations; every sandbox, idle or busy, for the caller to stop."""
        with self._changed:
            self._closed = True
            sandboxes = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._changed.notify_all()
        return sandboxes
