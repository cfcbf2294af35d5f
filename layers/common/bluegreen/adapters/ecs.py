"""ECS: the service's current task definition (or only its ARN), registering the rendered
revision, and rolling a service out to a revision (``UpdateService``) for the ``rolling``
method."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bluegreen.adapters.aws import translated
from bluegreen.errors import ResourceMissing

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import ServiceTypeDef


class EcsTaskDefinitions:
    def __init__(self, client: ECSClient) -> None:
        self._ecs = client

    def live(self, cluster: str, service: str) -> str:
        """The ARN of the task definition the service runs now (its PRIMARY task set's,
        under CodeDeploy)."""
        with translated({"ClusterNotFoundException": ResourceMissing}):
            found = self._ecs.describe_services(cluster=cluster, services=[service])
        services = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            raise ResourceMissing(f"ECS service {cluster}/{service} does not exist")
        return _primary_task_definition(services[0])

    def current(self, cluster: str, service: str) -> dict[str, Any]:
        """The task definition the service runs now, with its tags."""
        arn = self.live(cluster, service)
        with translated():
            described = self._ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        definition: dict[str, Any] = {**described["taskDefinition"]}
        definition["tags"] = described.get("tags", [])
        return definition

    def register(self, definition: dict[str, Any]) -> str:
        with translated():
            registered = self._ecs.register_task_definition(**definition)
        return str(registered["taskDefinition"]["taskDefinitionArn"])


class EcsServices:
    """A service as ``DescribeServices`` shows it (its deployments), and ``UpdateService``."""

    def __init__(self, client: ECSClient) -> None:
        self._ecs = client

    def describe(self, cluster: str, service: str) -> dict[str, Any]:
        with translated({"ClusterNotFoundException": ResourceMissing}):
            found = self._ecs.describe_services(cluster=cluster, services=[service])
        services = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            raise ResourceMissing(f"ECS service {cluster}/{service} does not exist")
        return dict(services[0])

    def update(self, cluster: str, service: str, task_definition: str) -> dict[str, Any]:
        """Roll the service out to ``task_definition``: ECS starts a deployment of it."""
        with translated(
            {
                "ClusterNotFoundException": ResourceMissing,
                "ServiceNotFoundException": ResourceMissing,
            }
        ):
            updated = self._ecs.update_service(
                cluster=cluster, service=service, taskDefinition=task_definition
            )
        return dict(updated["service"])


def _primary_task_definition(service: ServiceTypeDef) -> str:
    for task_set in service.get("taskSets", []):
        if task_set.get("status") == "PRIMARY":
            return str(task_set["taskDefinition"])
    return str(service["taskDefinition"])
