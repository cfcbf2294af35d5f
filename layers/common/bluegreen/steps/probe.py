"""Check the new version through the test listener, one request per invocation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bluegreen.domain import probe as rules
from bluegreen.domain.probe import CheckResult
from bluegreen.models import DeploymentState, ProbeProgress

Checker = Callable[[str, float], CheckResult]


def probe(state: DeploymentState, check: Checker, now: datetime) -> DeploymentState:
    timings = state.service.timings
    current = state.probe or ProbeProgress(started_at=now)
    result = check(state.service.bluegreen.test_url, timings.probe_request_timeout_seconds)
    progress = rules.record(current, result, timings)
    if progress.healthy:
        progress = progress.model_copy(update={"finished_at": now})
    return state.model_copy(update={"probe": progress})
