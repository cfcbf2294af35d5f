"""The README's first command: `bluegreen local demo` ends with a deployed release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
BLUEGREEN = Path(sys.executable).with_name("bluegreen")


def demo(*args: str) -> tuple[int, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [str(BLUEGREEN), "local", "demo", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def test_the_demo_deploys_and_sums_up():
    code, summary = demo()

    assert code == 0
    assert summary["status"] == "SUCCEEDED"
    assert summary["task_definition"] != summary["previous_task_definition"]
    assert str(summary["production_serves"]).endswith(f"demo-web@{summary['image_digest']}")
    assert not any(dict(summary["scaling_suspended"]).values())
    phases = [p["label"] for p in summary["phases"]]  # type: ignore[union-attr]
    assert phases[:3] == ["render task definition", "wait for approval", "suspend scaling"]
    assert "verify on test listener" in phases


def test_the_unhealthy_demo_rolls_back_and_says_why():
    code, summary = demo("--scenario", "unhealthy")

    assert code == 0  # the scenario ended as it should: rolled back
    assert (summary["status"], summary["last_state"]) == ("FAILED", "RolledBack")
    assert summary["error"] == "TestTrafficUnhealthy"
    assert summary["task_definition"] == summary["previous_task_definition"]
    assert not any(dict(summary["scaling_suspended"]).values())
