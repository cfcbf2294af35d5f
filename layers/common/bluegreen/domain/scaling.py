"""Application Auto Scaling must not fight CodeDeploy over task counts while traffic moves.

We suspend all three activities, and restore *exactly* what was there before: a target an
operator had already suspended stays suspended.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from bluegreen.models import ScalingSnapshot


class SuspendedState(TypedDict, total=False):
    """A scalable target's ``SuspendedState``, as Application Auto Scaling names its keys."""

    DynamicScalingInSuspended: bool
    DynamicScalingOutSuspended: bool
    ScheduledScalingSuspended: bool


ALL_SUSPENDED: SuspendedState = {
    "DynamicScalingInSuspended": True,
    "DynamicScalingOutSuspended": True,
    "ScheduledScalingSuspended": True,
}


def snapshot(resource_id: str, target: dict[str, Any] | None, now: datetime) -> ScalingSnapshot:
    """The state to restore later; ``target`` is DescribeScalableTargets' entry, or None."""
    if target is None:
        return ScalingSnapshot(resource_id=resource_id, registered=False, suspended_at=now)
    state = target.get("SuspendedState") or {}
    return ScalingSnapshot(
        resource_id=resource_id,
        registered=True,
        dynamic_scaling_in_suspended=bool(state.get("DynamicScalingInSuspended", False)),
        dynamic_scaling_out_suspended=bool(state.get("DynamicScalingOutSuspended", False)),
        scheduled_scaling_suspended=bool(state.get("ScheduledScalingSuspended", False)),
        suspended_at=now,
    )


def prior_state(snap: ScalingSnapshot) -> SuspendedState:
    """The SuspendedState to register again when the deployment ends, whatever its outcome."""
    return {
        "DynamicScalingInSuspended": snap.dynamic_scaling_in_suspended,
        "DynamicScalingOutSuspended": snap.dynamic_scaling_out_suspended,
        "ScheduledScalingSuspended": snap.scheduled_scaling_suspended,
    }
