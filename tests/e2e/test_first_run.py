"""A first run as the README tells it, and the operators' commands as a shell runs them.

One `bluegreen local serve --sample` for the module, its sample's listeners on ports asked
for; the README's local-stack snippet runs beside it on a stack of its own (two stacks on one
machine). Every command is a subprocess, as a user types it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import ROOT, aws, free_port, http, serve

pytestmark = pytest.mark.e2e
BLUEGREEN = Path(sys.executable).with_name("bluegreen")
BASH = shutil.which("bash") or "/bin/bash"


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
        f"bluegreen: no service named {command[-1]!r} (configured: demo-web "
        "(dev: 111111111111:demo-dev/web, prod: demo/web))"
    )


def test_a_stack_that_does_not_exist_is_an_error(endpoint: str) -> None:
    done = bluegreen("--stack", "staging", "executions", "--endpoint-url", endpoint)

    assert done.stdout == ""
    assert one_line_error(done, 2) == (
        "bluegreen: no stack 'staging' (CloudFormation holds no stack; no state machine "
        "staging-deploy, apps found by name: bluegreen); pass --stack NAME"
    )


# -- the README's first run --------------------------------------------------------------


def readme_snippet() -> str:
    """The README's local-stack snippet, as printed (between its markers)."""
    text = (ROOT / "README.md").read_text()
    found = re.search(
        r"<!-- local-stack:begin -->\n```sh\n(.*?)```\n<!-- local-stack:end -->", text, re.DOTALL
    )
    assert found, "README.md has no local-stack snippet between its markers"
    return found.group(1)


def test_the_readme_first_run_works_as_printed_beside_another_stack(endpoint: str) -> None:
    """Word for word, in a shell, on a stack of its own (its port from PORT) while the
    module's stack runs: pushed, approved through the emailed link, followed to the end."""
    port = free_port()
    with tempfile.TemporaryFile("w+") as output:
        shell = subprocess.Popen(
            [BASH, "-eu", "-c", readme_snippet()],
            cwd=ROOT,
            env=environment(PORT=str(port)),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # the stack it starts in the background is in its group
        )
        try:
            code = shell.wait(timeout=240)
            output.seek(0)
            printed = output.read()
            local = f"http://127.0.0.1:{port}"
            entry = _history(local)["deployments"][0]
        finally:
            os.killpg(shell.pid, signal.SIGTERM)

    assert code == 0, printed
    lines = printed.splitlines()
    assert "Approved: demo-web 3f2a9c1" in printed  # the answer page, as `approve` prints it
    assert '"_aws"' not in printed  # the stack in the background keeps the functions' output
    # the approval is the email recipient's, not the Slack link's
    assert (entry["tag"], entry["outcome"], entry["approved_by"]) == (
        "3f2a9c1",
        "succeeded",
        "approver@example.com",
    )
    assert re.fullmatch(
        rf"deployed in \S+; production runs demo-web:3f2a9c1 \({entry['digest'][7:19]}\)",
        lines[-1],
    )
    progress = [line for line in lines if re.match(r"\s+\d+\.\ds  \S", line)]
    assert any("verify on test listener: probe 1/3 passed" in line for line in progress)
    assert len(progress) == len(set(progress))  # piped: never the same line twice
    # the module's stack ran on beside it
    assert http(f"{endpoint}/_local/health")[0] == 200


def _history(endpoint: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(BLUEGREEN), "history", "demo-web", "--json", "--endpoint-url", endpoint],
        capture_output=True,
        text=True,
        env=environment(),
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found
