"""Outgoing HTTP, against real servers on loopback: the probe (Slack: test_slack_app.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from bluegreen.adapters.http_probe import check

from tests.unit.builders import Request, Responder, http_server


def answer(status: int, body: bytes = b"") -> Responder:
    return lambda _request: (status, body)


# --- the test-listener probe --------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 204])
def test_a_2xx_answer_passes(status: int) -> None:
    with http_server(answer(status)) as server:
        result = check(f"{server.url}/health", timeout=2)

    assert result.ok
    assert result.status == status
    assert result.detail.startswith(f"GET {server.url}/health -> {status} in ")
    assert server.requests[0].headers["User-Agent"] == "bluegreen-probe"


@pytest.mark.parametrize("status", [500, 503, 404])
def test_an_error_answer_fails_with_its_status(status: int) -> None:
    with http_server(answer(status, b"unhealthy")) as server:
        result = check(f"{server.url}/health", timeout=2)

    assert not result.ok
    assert result.status == status
    assert f"-> {status}" in result.detail


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_fails() -> None:
    url = f"http://127.0.0.1:{free_port()}/health"

    result = check(url, timeout=2)

    assert not result.ok
    assert result.status is None
    assert result.detail.startswith(f"GET {url}: ")
    assert "refused" in result.detail.lower()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def test_no_answer_within_the_timeout_fails(silent_port: int) -> None:
    started = time.monotonic()

    result = check(f"http://127.0.0.1:{silent_port}/health", timeout=0.3)

    assert time.monotonic() - started < 2
    assert not result.ok
    assert result.status is None
    assert "timed out" in result.detail


@pytest.fixture(params=[b"SSH-2.0-OpenSSH_9.6\r\n", b"X" * 20_000 + b"\r\n"], ids=["ssh", "long"])
def garbage_port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A port whose server answers every request with something that is not HTTP."""
    garbage: bytes = request.param
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(4096)
                connection.sendall(garbage)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def test_an_answer_that_is_not_http_fails_rather_than_crashing_the_step(
    garbage_port: int,
) -> None:
    result = check(f"http://127.0.0.1:{garbage_port}/health", timeout=2)

    assert not result.ok
    assert result.status is None
    assert len(result.detail) < 300  # it ends up in the execution state


@pytest.mark.parametrize("url", ["127.0.0.1:8080/health", "file:///etc/hosts", ""])
def test_a_url_that_is_not_http_fails_without_a_request(url: str) -> None:
    result = check(url, timeout=1)

    assert not result.ok
    assert "not an http(s) URL" in result.detail


def test_the_request_is_a_plain_get_of_the_configured_path() -> None:
    seen: list[Request] = []

    def record(request: Request) -> tuple[int, bytes]:
        seen.append(request)
        return 200, b"ok"

    with http_server(record) as server:
        check(f"{server.url}/health?deep=1", timeout=2)

    assert [(r.method, r.path, r.body) for r in seen] == [("GET", "/health?deep=1", b"")]
