"""An execution that ended ABORTED or TIMED_OUT ran no Catch: clean up after it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from bluegreen.domain import deployment as rules
from bluegreen.errors import RollbackInProgress
from bluegreen.models import DeploymentState
from bluegreen.steps.queue import Callbacks
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


def clean_up(
    state: DeploymentState,
    deployments: ActiveDeployments,
    targets: Targets,
    locks: Locks,
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
    holder = (locks.lock(service.lock_key) or {}).get("owner")
    if holder != state.execution_name:
        # It never got past approval, or someone else deploys now: nothing of ours to undo.
        return [
            f"nothing to clean up: the lock of {service.lock_key} is held by {holder or 'nobody'}"
        ]
    done = []
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


def _active(
    state: DeploymentState, deployments: ActiveDeployments
) -> list[tuple[str, dict[str, Any]]]:
    service = state.service
    return [
        (deployment_id, deployments.get(deployment_id))
        for deployment_id in deployments.active(
            service.codedeploy_application, service.deployment_group
        )
    ]
