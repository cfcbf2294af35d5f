"""Verdict on the new version, from checks made through the test listener."""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.errors import TestTrafficUnhealthy
from bluegreen.models import ProbeProgress, Timings


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    status: int | None
    detail: str


def record(progress: ProbeProgress, check: CheckResult, timings: Timings) -> ProbeProgress:
    """Healthy after N consecutive passes; unhealthy once passing can no longer happen in time."""
    attempts = progress.attempts + 1
    passes = progress.consecutive_passes + 1 if check.ok else 0
    healthy = passes >= timings.probe_required_passes
    remaining = timings.probe_max_attempts - attempts
    if not healthy and passes + remaining < timings.probe_required_passes:
        raise TestTrafficUnhealthy(
            f"{attempts} checks through the test listener, last: {check.detail}; "
            f"needed {timings.probe_required_passes} passes in a row"
        )
    return progress.model_copy(
        update={
            "attempts": attempts,
            "consecutive_passes": passes,
            "healthy": healthy,
            "last_status": check.status,
            "last_detail": check.detail,
        }
    )
