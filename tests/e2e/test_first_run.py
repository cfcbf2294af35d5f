"""A first run's commands, as a shell runs them.

One `bluegreen local serve --sample` for the module, its sample's listeners on ports asked
for. Every command is a subprocess, as a user types it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import ROOT, aws, free_port, http, serve

pytestmark = pytest.mark.e2e
BLUEGREEN = Path(sys.executable).with_name("bluegreen")


def environment(**extra: str) -> dict[str, str]:
    """The user's environment without AWS settings; this checkout's code on the path (the
    virtualenv's command may be installed from another one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    here = os.pathsep.join(str(ROOT / p) for p in ("cli", "layers/common", "."))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return {**env, **extra}


def bluegreen(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BLUEGREEN), *args],
        capture_output=True,
        text=True,
        env=environment(),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def sample_ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture(scope="module")
def endpoint(sample_ports: tuple[int, int]) -> Iterator[str]:
    production, test = sample_ports
    with serve("--sample-ports", f"{production},{test}", "--log-level", "WARNING") as url:
        yield url


def one_line_error(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# -- the sample's ports ------------------------------------------------------------------


def test_the_sample_listens_on_the_ports_asked_for_and_its_configuration_follows(
    endpoint: str, sample_ports: tuple[int, int]
) -> None:
    production, test = sample_ports
    status, body = http(f"{endpoint}/_local/sample")
    configured = aws(endpoint, "ssm").get_parameter(Name="/bluegreen/services")

    assert status == 200
    assert json.loads(body)["production_url"] == f"http://127.0.0.1:{production}"
    assert json.loads(body)["test_url"] == f"http://127.0.0.1:{test}"
    assert f'test_url = "http://127.0.0.1:{test}/health"' in configured["Parameter"]["Value"]
    assert http(f"http://127.0.0.1:{production}/")[0] == 200
    assert http(f"http://127.0.0.1:{test}/health")[0] == 200


def test_a_sample_port_in_use_is_one_line(endpoint: str, sample_ports: tuple[int, int]) -> None:
    production, _ = sample_ports

    done = bluegreen(
        "local", "serve", "--sample", "--port", "0", "--sample-ports", f"{production},0",
        "--log-level", "WARNING",
    )  # fmt: skip

    line = one_line_error(done, 1)
    assert line == (
        f"bluegreen local serve: cannot reserve 127.0.0.1:{production} for a listener: the "
        "port is already in use (is another local stack running?)"
    )


def test_a_port_in_use_is_one_line_for_serve_and_demo(endpoint: str) -> None:
    port = endpoint.rsplit(":", 1)[1]

    served = bluegreen("local", "serve", "--port", port)
    demo = bluegreen("local", "demo", "--port", port)

    assert one_line_error(served, 1) == (
        f"bluegreen local serve: cannot listen on 127.0.0.1:{port}: the port is in use "
        "(--port 0 takes any free port)"
    )
    assert one_line_error(demo, 1) == (
        f"bluegreen local demo: cannot listen on 127.0.0.1:{port}: the port is in use "
        "(--port 0 takes any free port)"
    )


def test_a_directory_without_the_template_is_one_line(tmp_path: Path) -> None:
    done = bluegreen("local", "serve", "--port", "0", "--project", str(tmp_path))

    assert one_line_error(done, 1) == (
        f"bluegreen local serve: no template.yaml in {tmp_path} (run it in the project, or "
        "--project DIR)"
    )


# -- local push --------------------------------------------------------------------------


def test_local_push_makes_an_image_of_its_own_per_tag(endpoint: str) -> None:
    first = bluegreen("local", "push", "demo-web", "--tag", "1a2b3c4", "--endpoint", endpoint)
    second = bluegreen(
        "local", "push", "demo-web", "--tag", "5d6e7f8", "--endpoint", endpoint, "--json"
    )
    again = bluegreen("local", "push", "demo-web", "--tag", "1a2b3c4", "--endpoint", endpoint)
    nowhere = bluegreen("local", "push", "nope", "--tag", "1a2b3c4", "--endpoint", endpoint)

    assert first.returncode == 0, first.stderr
    digest = re.fullmatch(r"pushed demo-web:1a2b3c4 \((sha256:[0-9a-f]{64})\)\n", first.stdout)
    assert digest is not None
    assert json.loads(second.stdout)["digest"] not in (None, digest.group(1))
    images = aws(endpoint, "ecr").describe_images(repositoryName="demo-web")["imageDetails"]
    layers = {
        tag: detail["imageManifestMediaType"] for detail in images for tag in detail["imageTags"]
    }
    assert layers["1a2b3c4"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert one_line_error(again, 2) == (
        "bluegreen local push: demo-web:1a2b3c4 was pushed already: push a new tag"
    )
    assert one_line_error(nowhere, 2) == (
        f"bluegreen local push: no repository 'nope' at {endpoint}"
    )


# -- where the commands look -------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["history", "demo/nope"],
        ["history", "nope"],
        ["executions", "--service", "demo/nope"],
        ["recover", "demo/nope"],
    ],
)
def test_an_unknown_service_is_an_error_naming_the_known_ones(
    endpoint: str, command: list[str]
) -> None:
    done = bluegreen(*command, "--endpoint-url", endpoint)

    assert done.stdout == ""
    assert one_line_error(done, 2) == (
        f"bluegreen: no service named {command[-1]!r} (configured: demo-web (demo/web))"
    )


def test_a_stack_that_does_not_exist_is_an_error(endpoint: str) -> None:
    done = bluegreen("--stack", "staging", "executions", "--endpoint-url", endpoint)

    assert done.stdout == ""
    assert one_line_error(done, 2) == (
        "bluegreen: no stack 'staging' (CloudFormation holds no stack; no state machine "
        "staging-deploy, apps found by name: bluegreen); pass --stack NAME"
    )
