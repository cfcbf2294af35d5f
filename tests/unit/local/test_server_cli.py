"""``bluegreen local serve`` as a user runs it: in the foreground, until Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from bluegreen_cli.main import app
from typer.testing import CliRunner

from tests.unit.local.localstack_support import PROJECT_ROOT, free_port

BLUEGREEN = Path(sys.executable).with_name("bluegreen")


@pytest.mark.e2e
@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_ready_answers_health_and_stops_cleanly(
    stop_with: signal.Signals,
) -> None:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BLUEGREEN), "local", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        ready_after = time.monotonic() - started
        assert "ready" in line
        url = re.search(r"http://\S+", line)
        assert url is not None
        assert url.group(0) == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url.group(0)}/_local/health", timeout=5) as response:
            assert response.status == 200
            assert json.loads(response.read())["status"] == "ready"
        assert ready_after < 60
    finally:
        process.send_signal(stop_with)
        try:
            _, errors = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise

    assert process.returncode == 0, errors
    assert "Traceback" not in errors


def test_a_busy_port_is_reported_without_a_traceback() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = CliRunner().invoke(
            app, ["local", "serve", "--port", str(port), "--project", str(PROJECT_ROOT)]
        )

    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_help_explains_the_local_routes() -> None:
    result = CliRunner().invoke(app, ["local", "serve", "--help"])

    assert result.exit_code == 0
    for text in ("--port", "--sample", "--host", "/_local/outbox", "/_local/health"):
        assert text in result.output
