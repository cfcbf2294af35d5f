"""Create, watch, continue and roll back the CodeDeploy blue/green deployment."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bluegreen.domain import deployment as rules
from bluegreen.models import DeploymentProgress, DeploymentState, RollbackResult


class Deployments(Protocol):
    def group(self, application: str, group: str) -> dict[str, Any]: ...
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
    if state.render is None:
        raise ValueError("create called before the task definition was rendered")
    service = state.service
    rules.require_ready_wait(
        deployments.group(service.codedeploy_application, service.deployment_group)
    )
    content, sha256 = rules.appspec(service, state.render.task_definition)
    deployment_id = deployments.create(
        service.codedeploy_application,
        service.deployment_group,
        content,
        sha256,
        service.deployment_config,
        rules.description(state),
    )
    progress = DeploymentProgress(deployment_id=deployment_id, created_at=now)
    return state.model_copy(update={"deployment": progress})


def check(state: DeploymentState, deployments: Deployments, now: datetime) -> DeploymentState:
    current = _progress(state)
    info = deployments.get(current.deployment_id)
    progress = rules.observe(current, info, state.service.timings.deployment_max_polls)
    if progress.ready and current.ready_at is None:
        progress = progress.model_copy(update={"ready_at": now})
    if progress.succeeded:
        progress = progress.model_copy(update={"finished_at": now})
    return state.model_copy(update={"deployment": progress})


def proceed(state: DeploymentState, deployments: Deployments, now: datetime) -> DeploymentState:
    """Verified: let CodeDeploy move production traffic to the new task set."""
    current = _progress(state)
    deployments.continue_to_production(current.deployment_id)
    progress = current.model_copy(update={"polls": 0, "continued_at": now})
    return state.model_copy(update={"deployment": progress})


def roll_back(state: DeploymentState, deployments: Deployments, now: datetime) -> DeploymentState:
    """Stop our deployment with rollback, unless there is none or it has already ended."""
    deployment_id = (
        state.deployment.deployment_id if state.deployment else _ours(state, deployments)
    )
    if deployment_id is None:
        detail, stopped = "no deployment was created", False
    else:
        status = deployments.get(deployment_id).get("status")
        if status in rules.ENDED:
            detail, stopped = f"deployment {deployment_id} had already ended {status}", False
        else:
            outcome = deployments.stop_and_roll_back(deployment_id)
            detail, stopped = f"deployment {deployment_id} stopped with rollback ({outcome})", True
    result = RollbackResult(deployment_stopped=stopped, detail=detail, rolled_back_at=now)
    return state.model_copy(update={"rollback": result})


def _ours(state: DeploymentState, deployments: Deployments) -> str | None:
    """A deployment created for this execution whose id never reached the state (a lost
    CreateDeployment response): found by the description it was created with."""
    service = state.service
    for deployment_id in deployments.active(
        service.codedeploy_application, service.deployment_group
    ):
        if deployments.get(deployment_id).get("description") == rules.description(state):
            return deployment_id
    return None


def _progress(state: DeploymentState) -> DeploymentProgress:
    if state.deployment is None:
        raise ValueError("no deployment in the execution state")
    return state.deployment
