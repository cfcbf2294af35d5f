"""CodeDeploy ECS blue/green: the AppSpec we submit and how we read a deployment's status."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bluegreen.errors import ConfigurationInvalid, DeploymentFailed, DeploymentTimedOut
from bluegreen.models import DeploymentProgress, DeploymentState, ServiceConfig

FAILED = frozenset({"Failed", "Stopped"})
ENDED = FAILED | {"Succeeded"}


def description(state: DeploymentState) -> str:
    """How a deployment names the execution that created it (found again on rollback)."""
    return f"bluegreen {state.execution_name}"


def appspec(service: ServiceConfig, task_definition_arn: str) -> tuple[str, str]:
    """The AppSpec content (JSON) and its SHA-256, as CodeDeploy's AppSpecContent wants them."""
    content = json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition_arn,
                            "LoadBalancerInfo": {
                                "ContainerName": service.container,
                                "ContainerPort": service.container_port,
                            },
                        },
                    }
                }
            ],
        },
        sort_keys=True,
    )
    return content, hashlib.sha256(content.encode()).hexdigest()


def require_ready_wait(group: dict[str, Any]) -> None:
    """Verification through the test listener needs the deployment to pause in ``Ready``."""
    option = (group.get("blueGreenDeploymentConfiguration") or {}).get(
        "deploymentReadyOption"
    ) or {}
    if option.get("actionOnTimeout") != "STOP_DEPLOYMENT":
        raise ConfigurationInvalid(
            f"deployment group {group.get('deploymentGroupName')!r} must wait for the test: set "
            "blueGreenDeploymentConfiguration.deploymentReadyOption.actionOnTimeout=STOP_DEPLOYMENT"
        )


def observe(
    progress: DeploymentProgress, info: dict[str, Any], max_polls: int
) -> DeploymentProgress:
    """One more look at the deployment: the new progress, or a named error to roll back on.

    Before ContinueDeployment we wait for ``Ready``; after it, for ``Succeeded``.
    """
    status = str(info.get("status", "Unknown"))
    if status in FAILED:
        error = info.get("errorInformation") or {}
        detail = error.get("message") or error.get("code") or "no reason given"
        raise DeploymentFailed(f"deployment {progress.deployment_id} is {status}: {detail}")
    awaited = "Ready" if progress.continued_at is None else "Succeeded"
    polls = progress.polls + 1
    if status != awaited and polls >= max_polls:
        raise DeploymentTimedOut(
            f"deployment {progress.deployment_id} is {status}, not {awaited}, after {polls} polls"
        )
    return progress.model_copy(
        update={
            "status": status,
            "polls": polls,
            "ready": progress.ready or status == "Ready",
            "succeeded": status == "Succeeded",
        }
    )
