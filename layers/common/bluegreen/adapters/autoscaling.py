"""Application Auto Scaling: read and set an ECS service's SuspendedState."""

from __future__ import annotations

from typing import Any

from bluegreen.adapters.aws import translated

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"


class ScalableTargets:
    def __init__(self, client: Any) -> None:
        self._aas = client

    def describe(self, resource_id: str) -> dict[str, Any] | None:
        with translated():
            found = self._aas.describe_scalable_targets(
                ServiceNamespace=NAMESPACE, ResourceIds=[resource_id], ScalableDimension=DIMENSION
            )
        targets = found.get("ScalableTargets", [])
        return dict(targets[0]) if targets else None

    def set_suspended(self, resource_id: str, state: dict[str, bool]) -> None:
        # Registering an existing target with only SuspendedState changes nothing else.
        with translated():
            self._aas.register_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id,
                ScalableDimension=DIMENSION,
                SuspendedState=state,
            )
