"""Create, watch, continue and roll back the CodeDeploy blue/green deployment.

Each step may run twice for one decision (the state machine retries a step whose Lambda
timed out or whose answer was lost), so each looks at CodeDeploy before it acts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bluegreen.domain import deployment as rules
from bluegreen.errors import DeploymentFailed
from bluegreen.models import DeploymentProgress, DeploymentState, RollbackResult


class Deployments(Protocol):
    def group(self, application: str, group: str) -> dict[str, Any]: ...
    def config(self, name: str) -> dict[str, Any]: ...
    def create(
        self,
        application: str,
        group: str,
        appspec: str,
        sha256: str,
        config: str | None,
        description: str,
    ) -> str: ...
    def get(self, deployment_id: str) -> dict[str, Any]: ...
    def continue_to_production(self, deployment_id: str) -> None: ...
    def stop_and_roll_back(self, deployment_id: str) -> str: ...
    def active(self, application: str, group: str) -> list[str]: ...


def create(state: DeploymentState, deployments: Deployments, now: datetime) -> DeploymentState:
    """Start the deployment, or find the one an earlier attempt of this step started."""
    if state.render is None:
        raise ValueError("create called before the task definition was rendered")
    service = state.service
    target = service.bluegreen
    group = deployments.group(target.application, target.group)
    rules.require_ready_wait(group)
    budget = rules.completion_budget_seconds(
        group, deployments.config(rules.config_name(service, group)), service.timings
    )
    deployment_id = _ours(state, deployments)
    if deployment_id is None:
        content, sha256 = rules.appspec(service, state.render.task_definition)
        deployment_id = deployments.create(
            target.application,
            target.group,
            content,
            sha256,
            target.config,
            rules.description(state),
        )
    progress = DeploymentProgress(
        deployment_id=deployment_id, created_at=now, completion_budget_seconds=budget
    )
    return state.model_copy(update={"deployment": progress})


def check(state: DeploymentState, deployments: Deployments, now: datetime) -> DeploymentState:
    current = _progress(state)
    info = deployments.get(current.deployment_id)
    progress = rules.observe(current, info, state.service.timings, now)
    if progress.ready and current.ready_at is None:
        progress = progress.model_copy(update={"ready_at": now})
    if progress.succeeded:
        progress = progress.model_copy(update={"finished_at": now})
    return state.model_copy(update={"deployment": progress})


def proceed(state: DeploymentState, deployments: Deployments, now: datetime) -> DeploymentState:
    """Verified: let CodeDeploy move production traffic to the new task set.

    Only a deployment waiting in Ready is continued; one that already moves on was continued
    by an earlier attempt of this step (a retry after a lost answer), which is done.
    """
    current = _progress(state)
    info = deployments.get(current.deployment_id)
    status = str(info.get("status", "Unknown"))
    if status in rules.FAILED:
        raise DeploymentFailed(f"deployment {current.deployment_id} is {status}, not Ready")
    if status == "Ready":
        deployments.continue_to_production(current.deployment_id)
    progress = current.model_copy(update={"polls": 0, "continued_at": now})
    wait = rules.next_wait_seconds(progress, state.service.timings, now)
    return state.model_copy(
        update={"deployment": progress.model_copy(update={"wait_seconds": wait})}
    )


def roll_back(state: DeploymentState, deployments: Deployments, now: datetime) -> DeploymentState:
    """Roll our deployment back, then watch CodeDeploy's rollback until blue serves again.

    The first call stops the deployment with rollback, unless there is none, it has already
    ended, or CodeDeploy reports production traffic fully moved and healthy: a failure of
    ours (a poll that timed out, a Lambda error, throttling) never rolls back a live
    release. Every later call looks at the rollback once more.
    """
    if state.rollback is None:
        state = _stop(state, deployments, now)
    result = state.rollback
    if result is None or result.finished or result.deployment_id is None:
        return state
    original = deployments.get(result.deployment_id)
    rollback_id = result.rollback_deployment_id or rules.rollback_id_of(original)
    rollback = deployments.get(rollback_id) if rollback_id else None
    watched = rules.watch_rollback(result, original, rollback, state.service.timings, now)
    return state.model_copy(update={"rollback": watched})


def _stop(state: DeploymentState, deployments: Deployments, now: datetime) -> DeploymentState:
    deployment_id = (
        state.deployment.deployment_id if state.deployment else _ours(state, deployments)
    )
    if deployment_id is None:
        result = RollbackResult(
            deployment_stopped=False,
            detail="no deployment was created",
            rolled_back_at=now,
            finished=True,
            finished_at=now,
        )
        return state.model_copy(update={"rollback": result})
    info = deployments.get(deployment_id)
    status = str(info.get("status", "Unknown"))
    if rules.live(info):
        return _left_live(state, deployment_id, info, now)
    if status in rules.ENDED:
        detail, stopped = f"deployment {deployment_id} had already ended {status}", False
    else:
        outcome = deployments.stop_and_roll_back(deployment_id)
        detail, stopped = f"deployment {deployment_id} stopped with rollback ({outcome})", True
    result = RollbackResult(
        deployment_stopped=stopped, detail=detail, rolled_back_at=now, deployment_id=deployment_id
    )
    return state.model_copy(update={"rollback": result})


def _left_live(
    state: DeploymentState, deployment_id: str, info: dict[str, Any], now: datetime
) -> DeploymentState:
    """Production runs the new version: record what CodeDeploy says, stop nothing."""
    status = str(info.get("status", "Unknown"))
    succeeded = status == "Succeeded"
    current = state.deployment or DeploymentProgress(deployment_id=deployment_id)
    progress = current.model_copy(
        update={
            "status": status,
            "traffic_shifted": True,
            "succeeded": succeeded,
            "finished_at": now if succeeded else current.finished_at,
        }
    )
    ending = "it has Succeeded" if succeeded else "CodeDeploy has yet to report Succeeded"
    result = RollbackResult(
        deployment_stopped=False,
        detail=(
            f"not rolled back: deployment {deployment_id} is {status} with production traffic "
            f"on the new version; {ending}"
        ),
        rolled_back_at=now,
        deployment_id=deployment_id,
        status=status,
        finished=True,
        finished_at=now,
        release_live=True,
    )
    return state.model_copy(update={"deployment": progress, "rollback": result})


def _ours(state: DeploymentState, deployments: Deployments) -> str | None:
    """A deployment created for this execution whose id never reached the state (a lost
    CreateDeployment response): found by the description it was created with."""
    service = state.service
    for deployment_id in deployments.active(service.bluegreen.application, service.bluegreen.group):
        if rules.created_for(state, deployments.get(deployment_id)):
            return deployment_id
    return None


def _progress(state: DeploymentState) -> DeploymentProgress:
    if state.deployment is None:
        raise ValueError("no deployment in the execution state")
    return state.deployment
