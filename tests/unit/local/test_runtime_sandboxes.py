"""Each function runs in execution environments of its own (worker processes), as on Lambda."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from bluegreen_cli.local.rights.identity import function_credentials
from bluegreen_cli.local.runtime import (
    FunctionRuntime,
    Invocation,
    Throttled,
)
from bluegreen_cli.local.template import LocalFunction

from tests.unit.local.localstack_support import PROJECT_ROOT, wait_for

NOWHERE = "http://127.0.0.1:9"

# A rendezvous through files: each caller leaves its name in ``folder`` and waits (with a
# deadline) until ``parties`` have arrived. Only invocations running at once can all pass.
MEET = """
    import os, pathlib, time

    def meet(folder, name, parties):
        folder = pathlib.Path(folder)
        (folder / name).write_text(str(os.getpid()))
        deadline = time.monotonic() + 10
        while len(list(folder.iterdir())) < parties:
            if time.monotonic() > deadline:
                raise TimeoutError("the others never arrived")
            time.sleep(0.01)
"""


def _function(tmp_path: Path, name: str, source: str, **fields: Any) -> LocalFunction:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "app.py").write_text(textwrap.dedent(source))
    (folder / "meeting.py").write_text(textwrap.dedent(MEET))
    function = LocalFunction(
        logical_id=name.title().replace("_", ""),
        name=f"test-{name}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:test-{name}",
        code_dir=folder,
        handler="app.lambda_handler",
        environment={},
        timeout=15,
    )
    return replace(function, **fields)


@pytest.fixture
def runtime_for() -> Iterator[Callable[..., FunctionRuntime]]:
    made: list[FunctionRuntime] = []

    def make(*functions: LocalFunction, **options: Any) -> FunctionRuntime:
        runtime = FunctionRuntime({f.logical_id: f for f in functions}, NOWHERE, **options)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def _running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# -- isolation: environment, credentials, module state -------------------------------------

OWN_ENVIRONMENT = """
    import os
    from meeting import meet

    def lambda_handler(event, context):
        meet(event["folder"], os.environ["OWN"], 2)
        return {
            "own": os.environ["OWN"],
            "variables": sorted(k for k in os.environ if k in ("OWN", "AWS_PROFILE")),
            "credentials": [os.environ[k] for k in (
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"
            )],
            "region": os.environ["AWS_REGION"],
            "endpoint": os.environ["AWS_ENDPOINT_URL"],
        }
"""


def test_functions_running_at_once_each_see_only_their_own_environment_and_credentials(
    tmp_path: Path,
    runtime_for: Callable[..., FunctionRuntime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server's own AWS settings (a developer's profile and keys) reach no function.
    monkeypatch.setenv("AWS_PROFILE", "someone-elses-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVERSOWNKEY")
    first = _function(tmp_path, "first", OWN_ENVIRONMENT, environment={"OWN": "first"})
    second = _function(tmp_path, "second", OWN_ENVIRONMENT, environment={"OWN": "second"})
    runtime = runtime_for(first, second)
    folder = tmp_path / "meeting"
    folder.mkdir()

    # Both handlers wait for each other: they read their environments at the same time.
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda f: runtime.invoke(f, {"folder": str(folder)}).json(), [first, second])
        )

    for function, answer in zip([first, second], answers, strict=True):
        own = function.environment["OWN"]
        assert answer["own"] == own
        assert answer["variables"] == ["OWN"]
        assert answer["credentials"] == list(function_credentials(function.logical_id).values())
        assert answer["region"] == "us-east-1"
        assert answer["endpoint"] == NOWHERE
    assert answers[0]["credentials"][0] != answers[1]["credentials"][0]
    assert "OWN" not in os.environ


def test_function_credentials_look_like_lambdas_and_name_their_function() -> None:
    credentials = function_credentials("First")

    # Temporary credentials (a role's) have access key ids starting ASIA.
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", credentials["AWS_ACCESS_KEY_ID"])
    assert len(credentials["AWS_SECRET_ACCESS_KEY"]) == 40
    assert credentials["AWS_SESSION_TOKEN"]
    assert function_credentials("First") == credentials
    # Each function signs with a key of its own: the server tells them apart by it.
    assert function_credentials("Second")["AWS_ACCESS_KEY_ID"] != credentials["AWS_ACCESS_KEY_ID"]


COUNTER = """
    import os

    CALLS = []

    def lambda_handler(event, context):
        CALLS.append(1)
        return {"calls": len(CALLS), "pid": os.getpid()}
"""


def test_module_state_lasts_across_invocations_of_a_warm_environment(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    function = _function(tmp_path, "counter", COUNTER)
    runtime = runtime_for(function)

    invocations = [runtime.invoke(function, {}) for _ in range(3)]

    assert [i.json()["calls"] for i in invocations] == [1, 2, 3]
    assert len({i.json()["pid"] for i in invocations}) == 1
    assert [i.cold_start for i in invocations] == [True, False, False]
    stats = runtime.stats()["functions"]["test-counter"]
    assert stats["cold_starts"] == 1
    assert stats["invocations"] == 3
    assert stats["init_ms"] > 0


def test_functions_do_not_share_module_state(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    # Two functions importing the same layer package each get their own copy, as two
    # Lambda functions do.
    layer = tmp_path / "layer"
    (layer / "sharedstate").mkdir(parents=True)
    (layer / "sharedstate" / "__init__.py").write_text("CALLS = []\n")
    source = """
        import sharedstate

        def lambda_handler(event, context):
            sharedstate.CALLS.append(1)
            return len(sharedstate.CALLS)
    """
    first = _function(tmp_path, "first", source, layer_dirs=(layer,))
    second = _function(tmp_path, "second", source, layer_dirs=(layer,))
    runtime = runtime_for(first, second)

    assert [runtime.invoke(first, {}).json() for _ in range(2)] == [1, 2]
    assert runtime.invoke(second, {}).json() == 1


def test_the_code_directory_comes_before_layers_on_the_path(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    # /var/task before /opt/python: a function's own module shadows a layer's.
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "which.py").write_text("WHERE = 'layer'\n")
    source = "import which\n\ndef lambda_handler(event, context):\n    return which.WHERE\n"
    function = _function(tmp_path, "shadow", source, layer_dirs=(layer,))
    (function.code_dir / "which.py").write_text("WHERE = 'code'\n")

    assert runtime_for(function).invoke(function, {}).json() == "code"


# -- concurrency ---------------------------------------------------------------------------

PARALLEL = """
    import os
    from meeting import meet

    def lambda_handler(event, context):
        if event.get("folder"):
            meet(event["folder"], context.aws_request_id, 2)
        return os.getpid()
"""


def test_concurrent_invocations_run_at_once_in_two_environments(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    function = _function(tmp_path, "parallel", PARALLEL)
    runtime = runtime_for(function)
    folder = tmp_path / "meeting"
    folder.mkdir()

    # Each invocation waits for the other: one environment at a time could not finish.
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: runtime.invoke(function, {"folder": str(folder)}), [1, 2]))

    assert [i.function_error for i in both] == [None, None]
    pids = {i.json() for i in both}
    assert len(pids) == 2
    assert all(i.cold_start for i in both)
    assert runtime.stats()["functions"]["test-parallel"]["cold_starts"] == 2
    # A later invocation reuses one of the warm environments.
    later = runtime.invoke(function, {})
    assert not later.cold_start
    assert later.json() in pids


HELD = """
    import os, pathlib, time

    def lambda_handler(event, context):
        pathlib.Path(event["started"]).write_text(str(os.getpid()))
        deadline = time.monotonic() + 10
        while not pathlib.Path(event["release"]).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return "released"
"""


def test_an_invocation_past_the_concurrency_cap_is_throttled_after_waiting(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    # Lambda answers TooManyRequestsException when a function's concurrency is used up.
    function = _function(tmp_path, "held", HELD)
    runtime = runtime_for(function, max_workers=1, throttle_after=0.3)
    event = {"started": str(tmp_path / "started"), "release": str(tmp_path / "release")}

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(runtime.invoke, function, event)
        wait_for(lambda: (tmp_path / "started").exists())
        with pytest.raises(Throttled):
            runtime.invoke(function, event)
        (tmp_path / "release").touch()
        assert first.result(timeout=10).json() == "released"

    assert runtime.stats()["functions"]["test-held"]["cold_starts"] == 1


# -- the function's timeout, crashes, init and answers Lambda cannot send ------------------

SLEEPER = """
    import os, pathlib, time

    def lambda_handler(event, context):
        if "pid_file" in event:
            pathlib.Path(event["pid_file"]).write_text(str(os.getpid()))
        time.sleep(event.get("sleep", 0))
        return "awake"
"""


def test_a_handler_past_its_timeout_is_stopped_with_its_environment(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    function = _function(tmp_path, "sleeper", SLEEPER, timeout=1)
    runtime = runtime_for(function)
    pid_file = tmp_path / "pid"

    timed_out = runtime.invoke(function, {"sleep": 60, "pid_file": str(pid_file)})

    assert timed_out.function_error == "Unhandled"
    assert timed_out.json() == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": (
            f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds"
        ),
    }
    assert not _running(int(pid_file.read_text()))
    # The next invocation gets a new environment (a cold start), as on Lambda.
    after = runtime.invoke(function, {})
    assert after.json() == "awake"
    assert after.cold_start
    assert runtime.stats()["functions"]["test-sleeper"]["cold_starts"] == 2


def test_the_timeout_counts_from_the_handler_call_not_the_wait_for_an_environment(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    function = _function(tmp_path, "queued", SLEEPER, timeout=2)
    runtime = runtime_for(function, max_workers=1)
    pid_file = tmp_path / "pid"

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(runtime.invoke, function, {"sleep": 1.5, "pid_file": str(pid_file)})
        wait_for(pid_file.exists)
        # Waits ~1.5 s for the one environment, then sleeps 1 s of its 2 s.
        second = runtime.invoke(function, {"sleep": 1})

    assert first.result().json() == "awake"
    assert second.json() == "awake"
    assert not second.cold_start


def test_the_init_phase_has_its_own_limit_on_top_of_the_timeout(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    # Lambda gives the init phase 10 s of its own; the timeout counts from the handler call.
    source = "import time\ntime.sleep(1.5)\n\ndef lambda_handler(event, context):\n    return 1\n"
    function = _function(tmp_path, "slowinit", source, timeout=1)

    invocation = runtime_for(function).invoke(function, {})

    assert invocation.function_error is None
    assert invocation.json() == 1
    assert invocation.init_ms >= 1500


def test_a_runtime_that_exits_mid_invocation_is_an_exit_error(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    source = """
        import os

        def lambda_handler(event, context):
            if event.get("exit"):
                os._exit(3)
            return "alive"
    """
    function = _function(tmp_path, "exiting", source)
    runtime = runtime_for(function)

    crashed = runtime.invoke(function, {"exit": True})

    assert crashed.function_error == "Unhandled"
    assert crashed.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 3"
        ),
    }
    after = runtime.invoke(function, {})
    assert after.json() == "alive"
    assert after.cold_start


def test_a_module_that_fails_to_import_is_an_init_error(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    function = _function(tmp_path, "broken", "import not_a_module_anywhere\n")

    result = runtime_for(function).invoke(function, {})

    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.ImportModuleError"
    assert result.json()["errorMessage"] == (
        "Unable to import module 'app': No module named 'not_a_module_anywhere'"
    )


def test_a_missing_handler_is_reported(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    function = _function(tmp_path, "nohandler", "def other(event, context):\n    return 1\n")

    error = runtime_for(function).invoke(function, {}).json()

    assert error["errorType"] == "Runtime.HandlerNotFound"
    assert error["errorMessage"] == "Handler 'lambda_handler' missing on module 'app'"


def test_an_error_names_the_exception_class_and_keeps_the_handlers_frames(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    source = """
        class DeploymentBlocked(Exception):
            pass

        def lambda_handler(event, context):
            raise DeploymentBlocked("change freeze")
    """
    function = _function(tmp_path, "failing", source)
    log = io.StringIO()

    result = runtime_for(function, log=log.write).invoke(function, {})
    # The function's log has the error too, as Lambda's runtime writes it there.
    wait_for(lambda: "[ERROR] DeploymentBlocked: change freeze" in log.getvalue())

    error = result.json()
    assert result.function_error == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("DeploymentBlocked", "change freeze")
    assert error["requestId"] == result.request_id
    # The user's frames only, as Lambda's runtime shows them.
    assert len(error["stackTrace"]) == 1
    assert "app.py" in error["stackTrace"][0]
    assert "lambda_handler" in error["stackTrace"][0]


def test_an_answer_that_is_not_json_is_a_marshal_error(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    function = _function(
        tmp_path, "unmarshal", "def lambda_handler(event, context):\n    return {1, 2}\n"
    )
    runtime = runtime_for(function)

    result = runtime.invoke(function, {})

    assert result.json()["errorType"] == "Runtime.MarshalError"
    assert result.json()["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )
    stats = runtime.stats()["functions"]["test-unmarshal"]
    assert (stats["invocations"], stats["errors"]) == (1, 1)


def test_decimals_are_answered_as_numbers_as_lambdas_runtime_does(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    # DynamoDB's numbers are Decimals; Lambda's runtime serialises them as JSON numbers.
    source = """
        from decimal import Decimal

        def lambda_handler(event, context):
            return {"count": Decimal("3"), "ratio": Decimal("0.25")}
    """
    function = _function(tmp_path, "decimals", source)

    assert runtime_for(function).invoke(function, {}).payload == b'{"count": 3, "ratio": 0.25}'


def test_what_a_function_prints_is_its_log_kept_apart_from_the_callers_stdout(
    tmp_path: Path,
    runtime_for: Callable[..., FunctionRuntime],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A function's output is its CloudWatch log: it goes to the stack's log (stderr by
    # default, or where the stack is told), never into a command's own stdout (its --json).
    source = """
        import logging, sys

        def lambda_handler(event, context):
            print("printed by the function")
            sys.stderr.write("written to stderr\\n")
            logging.getLogger().warning("logged by the function")
            return "answered"
    """
    function = _function(tmp_path, "printer", source)
    log = io.StringIO()

    invocation = runtime_for(function, log=log.write).invoke(function, {})
    wait_for(lambda: "logged by the function" in log.getvalue())

    assert invocation.json() == "answered"
    assert "printed by the function\n" in log.getvalue()
    assert "written to stderr\n" in log.getvalue()
    # Lambda's runtime's root logger format, with the request id.
    assert f"\t{invocation.request_id}\tlogged by the function" in log.getvalue()
    assert "printed by the function" not in capsys.readouterr().out

    default = _function(tmp_path, "printer2", source.replace("printer", "printer2"))
    runtime_for(default).invoke(default, {})
    wait_for(lambda: "logged by the function" in capsys.readouterr().err)


CONTEXT = """
    import os

    def lambda_handler(event, context):
        return {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "task_root": os.environ["LAMBDA_TASK_ROOT"],
            "cwd": os.getcwd(),
        }
"""


def test_the_context_is_lambdas(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    function = _function(tmp_path, "context", CONTEXT, timeout=2, memory_size=256)

    invocation = runtime_for(function).invoke(function, {})

    context = invocation.json()
    assert context["function_name"] == "test-context"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == function.arn
    # Lambda's runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string.
    assert context["memory_limit_in_mb"] == "256"
    assert context["aws_request_id"] == invocation.request_id
    assert context["log_group_name"] == "/aws/lambda/test-context"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert 0 < context["remaining_ms"] <= 2000
    # The code directory is /var/task: the task root and the working directory.
    assert context["task_root"] == context["cwd"] == str(function.code_dir)


def test_each_invocation_is_logged_with_its_cold_start(
    tmp_path: Path,
    runtime_for: Callable[..., FunctionRuntime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    function = _function(tmp_path, "logged", COUNTER)
    runtime = runtime_for(function)

    with caplog.at_level(logging.INFO, logger="bluegreen_cli.local.runtime"):
        runtime.invoke(function, {})
        runtime.invoke(function, {})

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("invoke ")]
    assert re.fullmatch(r"invoke test-logged \d+ ms \(cold start, init \d+ ms\)", lines[0])
    assert re.fullmatch(r"invoke test-logged \d+ ms", lines[1])


# -- lifecycle: no environment outlives the runtime ----------------------------------------


def test_close_stops_every_environment_idle_or_busy(
    tmp_path: Path, runtime_for: Callable[..., FunctionRuntime]
) -> None:
    idle = _function(tmp_path, "idle", PARALLEL)
    busy = _function(tmp_path, "busy", HELD)
    runtime = runtime_for(idle, busy)
    idle_pid = runtime.invoke(idle, {}).json()
    event = {"started": str(tmp_path / "started"), "release": str(tmp_path / "never")}

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(runtime.invoke, busy, event)
        busy_pid = int(wait_for(lambda: _read(tmp_path / "started")))
        runtime.close()
        interrupted: Invocation = held.result(timeout=10)

    assert not _running(idle_pid)
    assert not _running(busy_pid)
    assert interrupted.error_type == "Runtime.ExitError"
    with pytest.raises(Throttled):
        runtime.invoke(idle, {})


def _read(path: Path) -> str | None:
    try:
        return path.read_text() or None
    except FileNotFoundError:
        return None


SERVER = """
import json, sys, threading
from pathlib import Path
from bluegreen_cli.local.runtime import FunctionRuntime
from bluegreen_cli.local.template import LocalFunction

folder, started = Path(sys.argv[1]), sys.argv[2]
function = LocalFunction(
    logical_id="Held", name="test-held", arn="arn:aws:lambda:us-east-1:123456789012:function:x",
    code_dir=folder, handler="app.lambda_handler", environment={}, timeout=60,
)
runtime = FunctionRuntime({"Held": function}, "http://127.0.0.1:9")
event = {"started": started, "release": str(folder / "never")}
threading.Thread(target=runtime.invoke, args=(function, event)).start()
threading.Event().wait()
"""


def test_environments_end_when_the_server_process_dies(tmp_path: Path) -> None:
    function = _function(tmp_path, "held", HELD)
    started = tmp_path / "started"
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(function.code_dir), str(started)],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "cli")},
    )
    try:
        worker_pid = int(wait_for(lambda: _read(started)))
        assert _running(worker_pid)

        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)

        # Mid-invocation, its input closed: the worker leaves at once.
        wait_for(lambda: not _running(worker_pid), timeout=10)
    finally:
        server.kill()
        server.wait()
