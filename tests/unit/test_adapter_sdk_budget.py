"""The clients the functions build give up inside the functions' timeouts.

botocore's defaults (60 s connect, 60 s read, 3 to 5 attempts) would let one call outlive a
Lambda's timeout; the wiring's clients use the project's own bounds, whatever the
environment's AWS_MAX_ATTEMPTS or AWS_RETRY_MODE say. Each test points the clients at a
local endpoint on a free port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bluegreen import wiring
from bluegreen.adapters.aws import MAX_ATTEMPTS, READ_TIMEOUT_SECONDS, SDK_CONFIG
from bluegreen.errors import AwsUnavailable
from bluegreen.models import ServiceConfig
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from scripts.limits.timeouts import sdk_worst_case_seconds


class _Failing(BaseHTTPRequestHandler):
    """Answers every request with a retryable 500, and counts them."""

    requests = 0

    def do_POST(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"__type": "InternalFailure", "message": "try again"}'
        kind = "application/x-amz-json-1.0"
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            # A query-protocol service (STS) answers its errors in XML.
            body = (
                b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
                b"<Message>try again</Message></Error></ErrorResponse>"
            )
            kind = "text/xml"
        self.send_response(500)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh wiring, credentials, and an environment asking botocore for many retries."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "10")
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    for cached in vars(wiring).values():
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()
    yield
    for cached in vars(wiring).values():
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def test_a_failing_call_is_tried_max_attempts_times_whatever_the_environment_says(
    endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(ClientError):
            wiring.task_callbacks().succeed("token", {})
    finally:
        server.shutdown()
        server.server_close()

    assert _Failing.requests == MAX_ATTEMPTS


def test_an_endpoint_that_never_answers_fails_the_call_within_the_sdk_budget(
    endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A listening socket nobody accepts on: the kernel completes the TCP handshake, then
    # nothing is ever read or written.
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(AwsUnavailable) as raised:
            wiring.task_callbacks().succeed("token", {})
        elapsed = time.monotonic() - started
    finally:
        silent.close()

    # Every attempt waited its full read timeout, and no more than the checked budget.
    assert MAX_ATTEMPTS * READ_TIMEOUT_SECONDS <= elapsed < sdk_worst_case_seconds(SDK_CONFIG)
    # Then the step fails with the transient error the state machine's Retry matches.
    assert isinstance(raised.value.__cause__, ReadTimeoutError)


def test_an_endpoint_nobody_listens_on_is_a_transient_error_of_the_step(
    endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # connections to it are refused
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")

    with pytest.raises(AwsUnavailable, match="EndpointConnectionError") as raised:
        wiring.task_callbacks().succeed("token", {})

    assert isinstance(raised.value.__cause__, EndpointConnectionError)


# An environment in another account: its adapters' first call assumes the role first.
ELSEWHERE = ServiceConfig(
    name="demo-web",
    repository="demo-web",
    environment="dev",
    role_arn="arn:aws:iam::111111111111:role/bluegreen-deploy",
    cluster="demo-dev",
    service="web",
    method="rolling",
    container="web",
    container_port=8080,
    approvers=[],
)


def test_assuming_an_environments_role_is_tried_max_attempts_times(
    endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The STS client that assumes the role has the functions' bounds too."""
    _Failing.requests = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(ClientError) as raised:
            wiring.task_definitions(ELSEWHERE).current("demo-dev", "web")
    finally:
        server.shutdown()
        server.server_close()

    assert raised.value.operation_name == "AssumeRole"  # never got as far as ECS
    assert _Failing.requests == MAX_ATTEMPTS


def test_an_sts_endpoint_that_never_answers_fails_the_step_within_the_sdk_budget(
    endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(AwsUnavailable) as raised:
            wiring.scalable_targets(ELSEWHERE).describe("service/demo-dev/web")
        elapsed = time.monotonic() - started
    finally:
        silent.close()

    assert MAX_ATTEMPTS * READ_TIMEOUT_SECONDS <= elapsed < sdk_worst_case_seconds(SDK_CONFIG)
    assert isinstance(raised.value.__cause__, ReadTimeoutError)
