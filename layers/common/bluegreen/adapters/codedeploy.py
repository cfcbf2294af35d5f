"""CodeDeploy: create, observe, continue and stop ECS blue/green deployments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bluegreen.adapters.aws import translated
from bluegreen.errors import DeploymentAlreadyActive, ResourceMissing

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_codedeploy.literals import DeploymentStatusType
    from mypy_boto3_codedeploy.type_defs import CreateDeploymentInputTypeDef

ACTIVE: list[DeploymentStatusType] = ["Created", "Queued", "InProgress", "Baking", "Ready"]
_MISSING = {
    "ApplicationDoesNotExistException": ResourceMissing,
    "DeploymentGroupDoesNotExistException": ResourceMissing,
    "DeploymentDoesNotExistException": ResourceMissing,
    "DeploymentConfigDoesNotExistException": ResourceMissing,
}


class CodeDeployDeployments:
    def __init__(self, client: CodeDeployClient) -> None:
        self._cd = client

    def group(self, application: str, group: str) -> dict[str, Any]:
        with translated(_MISSING):
            found = self._cd.get_deployment_group(
                applicationName=application, deploymentGroupName=group
            )
        return dict(found["deploymentGroupInfo"])

    def config(self, name: str) -> dict[str, Any]:
        with translated(_MISSING):
            found = self._cd.get_deployment_config(deploymentConfigName=name)
        return dict(found["deploymentConfigInfo"])

    def create(
        self,
        application: str,
        group: str,
        appspec: str,
        sha256: str,
        config: str | None,
        description: str,
    ) -> str:
        kwargs: CreateDeploymentInputTypeDef = {
            "applicationName": application,
            "deploymentGroupName": group,
            "revision": {
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": appspec, "sha256": sha256},
            },
            "description": description[:100],
        }
        if config:
            kwargs["deploymentConfigName"] = config
        with translated({**_MISSING, "DeploymentLimitExceededException": DeploymentAlreadyActive}):
            created = self._cd.create_deployment(**kwargs)
        return str(created["deploymentId"])

    def get(self, deployment_id: str) -> dict[str, Any]:
        with translated(_MISSING):
            found = self._cd.get_deployment(deploymentId=deployment_id)
        return dict(found["deploymentInfo"])

    def continue_to_production(self, deployment_id: str) -> None:
        with translated(_MISSING):
            self._cd.continue_deployment(
                deploymentId=deployment_id, deploymentWaitType="READY_WAIT"
            )

    def stop_and_roll_back(self, deployment_id: str) -> str:
        with translated(_MISSING):
            stopped = self._cd.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
        return f"{stopped.get('status', 'Pending')}: {stopped.get('statusMessage', '')}".strip()

    def active(self, application: str, group: str) -> list[str]:
        with translated(_MISSING):
            found = self._cd.list_deployments(
                applicationName=application,
                deploymentGroupName=group,
                includeOnlyStatuses=ACTIVE,
            )
        return [str(d) for d in found.get("deployments", [])]
