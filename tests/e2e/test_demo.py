"""The README's first command: `bluegreen local demo` pushes an image through the sample's
pipeline (dev, then prod) and ends with what each environment runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
BLUEGREEN = Path(sys.executable).with_name("bluegreen")


def demo(*args: str) -> tuple[int, dict[str, Any], str]:
    """Exit status, the JSON summary, and what it showed on the way (stderr with --json)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [str(BLUEGREEN), "local", "demo", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    return done.returncode, json.loads(done.stdout), done.stderr


def environments(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["environment"]: e for e in summary["environments"]}


def test_the_demo_deploys_and_sums_up():
    code, summary, shown = demo()

    assert code == 0
    # The top-level fields are production's execution, as before the pipeline.
    assert summary["status"] == "SUCCEEDED"
    assert summary["task_definition"] != summary["previous_task_definition"]
    assert str(summary["production_serves"]).endswith(f"demo-web@{summary['image_digest']}")
    assert not any(dict(summary["scaling_suspended"]).values())
    phases = [p["label"] for p in summary["phases"]]
    assert phases[:3] == ["render task definition", "wait for approval", "suspend scaling"]
    assert "verify on test listener" in phases
    # Development took the image first: a rolling update in its account, nobody asked.
    dev, prod = environments(summary)["dev"], environments(summary)["prod"]
    assert list(environments(summary)) == ["dev", "prod"]
    assert (dev["account"], dev["service"], dev["method"]) == (
        "111111111111",
        "demo-dev/web",
        "rolling",
    )
    assert (dev["status"], dev["approvers"]) == ("SUCCEEDED", [])
    assert dev["task_definition"] != dev["previous_task_definition"]
    dev_phases = [p["label"] for p in dev["phases"]]
    assert "roll out" in dev_phases
    assert "wait for approval" not in dev_phases
    assert prod["execution_arn"] == summary["execution_arn"]
    assert prod["approvers"] == ["approver@example.com"]
    short = summary["image_digest"][7:19]
    assert dev["execution_arn"].endswith(f":demo-web-dev-{short}")
    assert prod["execution_arn"].endswith(f":demo-web-prod-{short}")
    # Each environment runs the very image pushed, by its digest.
    tag = summary["image"].split(":", 1)[1]
    assert dev["runs"] == prod["runs"] == summary["production"] == f"demo-web:{tag} ({short})"
    # Followed live: dev's rolling update, then production's checks.
    assert re.search(rf"dev: demo-web-dev-{short} \(rolling update", shown)
    assert re.search(r"roll out: 1 of 1 tasks running", shown)
    assert re.search(r"verify on test listener: probe 1/3 passed", shown)
    assert shown.index("dev: deployed") < shown.index(f"prod: demo-web-prod-{short}")
    assert " ERROR " not in shown


def test_the_unhealthy_demo_rolls_back_and_says_why():
    code, summary, _ = demo("--scenario", "unhealthy")

    assert code == 0  # the scenario ended as it should: rolled back
    assert (summary["status"], summary["last_state"]) == ("FAILED", "RolledBack")
    assert summary["error"] == "TestTrafficUnhealthy"
    assert summary["task_definition"] == summary["previous_task_definition"]
    assert not any(dict(summary["scaling_suspended"]).values())
    # Development deployed it (its app is healthy); production went back to what it ran.
    dev, prod = environments(summary)["dev"], environments(summary)["prod"]
    short = summary["image_digest"][7:19]
    assert dev["status"] == "SUCCEEDED"
    assert dev["runs"].endswith(f"({short})")
    assert (prod["status"], prod["error"]) == ("FAILED", "TestTrafficUnhealthy")
    assert prod["runs"].startswith("demo-web:initial ")
    assert "rolled back (TestTrafficUnhealthy" in prod["ending"]
