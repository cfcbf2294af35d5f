"""An execution that ended ABORTED or TIMED_OUT ran no Catch: clean up after it."""

from __future__ import annotations

from typing import Protocol

from bluegreen.models import DeploymentState
from bluegreen.steps.scaling import Locks, Targets, restore


class ActiveDeployments(Protocol):
    def active(self, application: str, group: str) -> list[str]: ...
    def stop_and_roll_back(self, deployment_id: str) -> str: ...


def clean_up(
    state: DeploymentState, deployments: ActiveDeployments, targets: Targets, locks: Locks
) -> list[str]:
    """Roll back what the execution left running, restore scaling, release its lock."""
    service = state.service
    holder = (locks.lock(service.lock_key) or {}).get("owner")
    if holder != state.execution_name:
        # It never got past approval, or someone else deploys now: nothing of ours to undo.
        return [
            f"nothing to clean up: the lock of {service.lock_key} is held by {holder or 'nobody'}"
        ]
    done = [
        f"stopped {deployment_id}: {deployments.stop_and_roll_back(deployment_id)}"
        for deployment_id in deployments.active(
            service.codedeploy_application, service.deployment_group
        )
    ]
    snap = restore(service, state.execution_name, None, targets, locks)
    if snap is not None and snap.registered:
        done.append(f"scaling of {snap.resource_id} restored")
    done.append(f"lock of {service.lock_key} released")
    return done
