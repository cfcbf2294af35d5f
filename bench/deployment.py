"""What one demo push costs: state transitions (Step Functions bills these) and Lambda
invocations, counted by the local stack while `bluegreen local demo` runs: the sample's
pipeline, development's execution and production's it promotes to (the status is
production's)."""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.request
from dataclasses import dataclass
from typing import Any

from bluegreen_cli.demo import Scenario, run
from bluegreen_cli.local.server import LocalStack


@dataclass(frozen=True)
class DeploymentCost:
    scenario: str
    status: str
    seconds: float
    state_transitions: int
    lambda_invocations: int
    invocations_by_function: dict[str, int]


def _stats(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_local/stats", timeout=10) as response:  # noqa: S310
        return dict(json.load(response))


def _counts(stats: dict[str, Any]) -> dict[str, int]:
    return {name: int(f.get("invocations", 0)) for name, f in stats.get("functions", {}).items()}


def measure(scenario: Scenario = "approve") -> DeploymentCost:
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    # What the functions print (their CloudWatch log) must not mix with the figures.
    with (
        contextlib.redirect_stdout(sys.stderr),
        LocalStack(port=0, sample=True, function_environment=quiet) as stack,
    ):
        before = _stats(stack.endpoint_url)
        result = run(stack.endpoint_url, stack.client, scenario)
        after = _stats(stack.endpoint_url)
    by_function = {
        name: count - _counts(before).get(name, 0)
        for name, count in _counts(after).items()
        if count - _counts(before).get(name, 0)
    }
    return DeploymentCost(
        scenario=scenario,
        status=result.status,
        seconds=result.total_seconds,
        state_transitions=int(after["state_transitions"]) - int(before["state_transitions"]),
        lambda_invocations=int(after["invocations"]) - int(before["invocations"]),
        invocations_by_function=by_function,
    )
