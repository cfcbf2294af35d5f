"""An execution that ended ABORTED or TIMED_OUT ran no Catch: clean up after it.

:func:`clean_up` answers the execution's status-change event. :func:`recover` does the same
for a lock whose owner has ended when that event never came (lost, or its rule disabled),
and :func:`sweep` for every lock in the table: a lock held by a running execution is left
alone, so both are safe to run at any time, and running them again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bluegreen.domain import deployment as rules
from bluegreen.domain import scaling
from bluegreen.domain.recovery import MISSING, LockReport, OwnerExecution
from bluegreen.errors import RollbackInProgress
from bluegreen.models import DeploymentState, ServiceConfig
from bluegreen.steps.queue import Callbacks, release
from bluegreen.steps.scaling import Locks, Targets, restore

# Lambda retries a failed asynchronous invocation twice, about one and then two minutes
# later: its last attempt comes some three minutes after the execution ended. Until then a
# rollback in progress is waited for; the last attempt restores scaling whatever CodeDeploy
# is doing, because a service left suspended cannot scale out.
ROLLBACK_PATIENCE = timedelta(minutes=2)


class ActiveDeployments(Protocol):
    def active(self, application: str, group: str) -> list[str]: ...
    def get(self, deployment_id: str) -> dict[str, Any]: ...
    def stop_and_roll_back(self, deployment_id: str) -> str: ...


class Queue(Locks, Protocol):
    def withdraw(self, key: str, execution: str) -> bool: ...


@dataclass(frozen=True)
class Reached:
    """CodeDeploy and Application Auto Scaling where a service runs."""

    deployments: ActiveDeployments
    targets: Targets


# Where a service runs, reached (through its environment's role); None: the app's own
# account and region, for a lock whose owner left no document naming its environment.
Reach = Callable[[ServiceConfig | None], Reached]


def clean_up(
    state: DeploymentState,
    deployments: ActiveDeployments,
    targets: Targets,
    locks: Queue,
    waited: timedelta,
    callbacks: Callbacks,
    now: datetime,
) -> list[str]:
    """Roll back what the execution left running, restore scaling, release its lock.

    Only the execution's own deployment is stopped, and not once production traffic has
    fully moved to it (a live release is CodeDeploy's to finish). A rollback in progress,
    CodeDeploy's own or the one a stop here starts, is left to finish: scaling and the lock
    wait for it (``RollbackInProgress``: Lambda retries the event later) until ``waited``
    (since the execution ended) reaches ``ROLLBACK_PATIENCE``.
    """
    service = state.service
    done = []
    if locks.withdraw(service.lock_key, state.execution_name):
        # It ended waiting (rejected, expired, stopped): older images may be deployed again.
        done.append(f"{state.execution_name} no longer waits to deploy {service.lock_key}")
    holder = (locks.lock(service.lock_key) or {}).get("owner")
    if holder != state.execution_name:
        # It never got past approval, or someone else deploys now: nothing of ours to undo.
        held = f"the lock of {service.lock_key} is held by {holder or 'nobody'}"
        return done or [f"nothing to clean up: {held}"]
    if service.method == "rolling":
        # No CodeDeploy and no scaling suspended: ECS finishes its own deployment (its
        # circuit breaker rolls back a failing one); the lock goes to the next image.
        release(service.lock_key, state.execution_name, locks, callbacks, now, deployed=False)
        return [
            *done,
            f"lock of {service.lock_key} released (rolling: ECS finishes its deployment)",
        ]
    for deployment_id, info in _active(state, deployments):
        if not rules.created_for(state, info):
            continue
        if rules.live(info):
            done.append(
                f"left {deployment_id} alone: it is {info.get('status')} with production "
                "traffic on the new version"
            )
            continue
        done.append(f"stopped {deployment_id}: {deployments.stop_and_roll_back(deployment_id)}")
    rolling_back = [
        deployment_id
        for deployment_id, info in _active(state, deployments)
        if info.get("creator") == rules.ROLLBACK_CREATOR
    ]
    if rolling_back and waited < ROLLBACK_PATIENCE:
        waiting = (
            f"CodeDeploy is rolling back with {', '.join(rolling_back)}: scaling of "
            f"{service.scalable_target_id} and the lock wait until it ends"
        )
        raise RollbackInProgress("; ".join([*done, waiting]))
    if rolling_back:
        done.append(
            f"CodeDeploy was still rolling back with {', '.join(rolling_back)} "
            f"{int(waited.total_seconds())} s after the execution ended"
        )
    snap = restore(service, state.execution_name, None, targets, locks, callbacks, now)
    if snap is not None and snap.registered:
        done.append(f"scaling of {snap.resource_id} restored")
    done.append(f"lock of {service.lock_key} released")
    return done


class OwnerExecutions(Protocol):
    def describe(self, name: str) -> OwnerExecution | None: ...


class LockTable(Queue, Protocol):
    def held_locks(self) -> list[dict[str, Any]]: ...


def recover(
    key: str,
    executions: OwnerExecutions,
    reach: Reach,
    locks: Queue,
    callbacks: Callbacks,
    now: datetime,
) -> LockReport:
    """Recover the lock of ``key`` (the service's ``lock_key``) if its owner has ended; else
    leave it.

    The owner's own input says which service, environment (account, role, region),
    CodeDeploy group and scaling it deployed; :func:`clean_up` then rolls back what it
    left, restores the scaling saved in the lock, and releases it, waiting for a rollback
    in progress while the owner ended recently.
    """
    lock = locks.lock(key) or {}
    owner = lock.get("owner")
    if not owner:
        return LockReport(key, "free", actions=[f"nothing to recover: {key} is not locked"])
    owner = str(owner)
    report = LockReport(key, "failed", owner=owner, since=lock.get("since"))
    execution = executions.describe(owner)
    report.owner_status = execution.status if execution else MISSING
    if execution is not None and execution.running:
        report.outcome = "left-alone"
        report.actions = [f"left alone: {owner} is {execution.status}"]
        return report
    state = _document(execution)
    if state is None or execution is None:
        report.actions = _release_unknown(key, owner, reach, locks, callbacks, execution, now)
    else:
        if state.service.lock_key != key:
            report.actions = [f"{owner} deployed {state.service.lock_key}, not {key}: left held"]
            return report
        ended = execution.stopped_at or now
        where = reach(state.service)
        try:
            report.actions = clean_up(
                state, where.deployments, where.targets, locks, now - ended, callbacks, now
            )
        except RollbackInProgress as e:
            report.outcome = "waiting"
            report.actions = [str(e)]
            return report
    still = (locks.lock(key) or {}).get("owner")
    report.outcome = "failed" if still == owner else "recovered"
    return report


def _document(execution: OwnerExecution | None) -> DeploymentState | None:
    if execution is None or not execution.input:
        return None
    try:
        return DeploymentState.model_validate_json(execution.input)
    except ValueError:  # pydantic's ValidationError: not a deployment document
        return None


def _release_unknown(
    key: str,
    owner: str,
    reach: Reach,
    locks: Queue,
    callbacks: Callbacks,
    execution: OwnerExecution | None,
    now: datetime,
) -> list[str]:
    """The owner is unknown to Step Functions, or its input is no deployment document: which
    CodeDeploy group it used is unknown too, so only the lock's own record is acted on.

    Its scaling is restored where the app is; a service in another account or region (its
    key says which) is reached only through the role its document names, so there the
    lock is released with the scaling left as it is, and the report says so."""
    why = "is unknown to Step Functions" if execution is None else "has no deployment document"
    done = [f"{owner} {why}: no CodeDeploy deployment looked at"]
    snap = locks.saved_snapshot(key, owner)
    elsewhere = _elsewhere(key)
    if snap is not None and snap.registered and elsewhere:
        done.append(
            f"scaling of {snap.resource_id} in {elsewhere} NOT restored: no document names "
            "the role to reach it (restore its SuspendedState by hand)"
        )
    elif snap is not None and snap.registered:
        reach(None).targets.set_suspended(snap.resource_id, scaling.prior_state(snap))
        done.append(f"scaling of {snap.resource_id} restored")
    release(key, owner, locks, callbacks, now, deployed=False)
    done.append(f"lock of {key} released")
    return done


def _elsewhere(key: str) -> str | None:
    """``111111111111/eu-west-1`` of ``111111111111/eu-west-1:cluster/service``: the
    account and region a lock key names (see ``ServiceConfig.lock_key``), if any."""
    where, colon, _ = key.rpartition(":")
    return where if colon else None


def sweep(
    executions: OwnerExecutions,
    reach: Reach,
    locks: LockTable,
    callbacks: Callbacks,
    now: datetime,
) -> list[LockReport]:
    """:func:`recover` every lock in the table; one that fails stops no other."""
    reports = []
    for item in locks.held_locks():
        if not item.get("owner"):
            continue  # a lock item nobody holds
        key = str(item["key"])
        try:
            reports.append(recover(key, executions, reach, locks, callbacks, now))
        except Exception as e:
            owner = item.get("owner")
            reports.append(
                LockReport(
                    key,
                    "failed",
                    owner=str(owner) if owner else None,
                    since=item.get("since"),
                    actions=[f"{type(e).__name__}: {e}"],
                )
            )
    return reports


def _active(
    state: DeploymentState, deployments: ActiveDeployments
) -> list[tuple[str, dict[str, Any]]]:
    service = state.service
    return [
        (deployment_id, deployments.get(deployment_id))
        for deployment_id in deployments.active(
            service.bluegreen.application, service.bluegreen.group
        )
    ]
