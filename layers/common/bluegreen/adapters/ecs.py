"""ECS: the service's current task definition, and registering the rendered revision."""

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

    def current(self, cluster: str, service: str) -> dict[str, Any]:
        """The task definition the service runs now (its PRIMARY task set's, under CodeDeploy)."""
        with translated({"ClusterNotFoundException": ResourceMissing}):
            found = self._ecs.describe_services(cluster=cluster, services=[service])
        services = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            raise ResourceMissing(f"ECS service {cluster}/{service} does not exist")
        arn = _primary_task_definition(services[0])
        with translated():
            described = self._ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        definition: dict[str, Any] = {**described["taskDefinition"]}
        definition["tags"] = described.get("tags", [])
        return definition

    def register(self, definition: dict[str, Any]) -> str:
        with translated():
            registered = self._ecs.register_task_definition(**definition)
        return str(registered["taskDefinition"]["taskDefinitionArn"])


def _primary_task_definition(service: ServiceTypeDef) -> str:
    for task_set in service.get("taskSets", []):
        if task_set.get("status") == "PRIMARY":
            return str(task_set["taskDefinition"])
    return str(service["taskDefinition"])
