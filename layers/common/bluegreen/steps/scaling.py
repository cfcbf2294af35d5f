"""Suspend Application Auto Scaling under the service's lock; restore exactly, then unlock."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bluegreen.domain import scaling
from bluegreen.domain.queue import Released
from bluegreen.models import DeploymentState, ScalingSnapshot, ServiceConfig
from bluegreen.steps.queue import Callbacks, release


class Targets(Protocol):
    def describe(self, resource_id: str) -> dict[str, Any] | None: ...
    def set_suspended(self, resource_id: str, state: scaling.SuspendedState) -> None: ...


class Locks(Protocol):
    def lock(self, key: str) -> dict[str, Any] | None: ...
    def acquire_lock(self, key: str, owner: str, now: datetime) -> None: ...
    def save_snapshot(self, key: str, owner: str, snap: ScalingSnapshot) -> None: ...
    def saved_snapshot(self, key: str, owner: str) -> ScalingSnapshot | None: ...
    def release_lock(
        self, key: str, owner: str, now: datetime, deployed: bool = False
    ) -> Released | None: ...


def suspend(
    state: DeploymentState, targets: Targets, locks: Locks, now: datetime
) -> DeploymentState:
    service = state.service
    locks.acquire_lock(service.lock_key, state.execution_name, now)
    # On a retry the target may already be suspended by us: the first snapshot is the truth.
    snap = locks.saved_snapshot(service.lock_key, state.execution_name)
    if snap is None:
        snap = scaling.snapshot(
            service.scalable_target_id, targets.describe(service.scalable_target_id), now
        )
        locks.save_snapshot(service.lock_key, state.execution_name, snap)
    if snap.registered:
        targets.set_suspended(service.scalable_target_id, scaling.ALL_SUSPENDED)
    return state.model_copy(update={"scaling": snap})


def restore(
    service: ServiceConfig,
    owner: str,
    known: ScalingSnapshot | None,
    targets: Targets,
    locks: Locks,
    callbacks: Callbacks,
    now: datetime,
    deployed: bool = False,
) -> ScalingSnapshot | None:
    """Put back the saved SuspendedState, release the lock to the image waiting for its
    turn; safe to repeat. ``deployed``: production now runs the owner's image.

    Only the lock's owner restores: once released (a retry after success) or taken by the
    next deployment, writing our old snapshot would undo someone else's suspension.
    """
    if (locks.lock(service.lock_key) or {}).get("owner") != owner:
        return known
    snap = known or locks.saved_snapshot(service.lock_key, owner)
    if snap is not None and snap.registered:
        targets.set_suspended(snap.resource_id, scaling.prior_state(snap))
    release(service.lock_key, owner, locks, callbacks, now, deployed)
    return snap


def resume(
    state: DeploymentState, targets: Targets, locks: Locks, callbacks: Callbacks, now: datetime
) -> DeploymentState:
    # A rolling deployment suspended nothing: only the lock is released (no snapshot).
    deployed = (
        bool(state.deployment and state.deployment.succeeded)
        or bool(state.rollback and state.rollback.release_live)
        or bool(state.rollout and state.rollout.completed)
    )
    snap = restore(
        state.service, state.execution_name, state.scaling, targets, locks, callbacks, now, deployed
    )
    return state.model_copy(update={"scaling": snap})
