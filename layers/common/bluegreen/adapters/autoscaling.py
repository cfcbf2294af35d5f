"""Application Auto Scaling: read and set an ECS service's SuspendedState."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from bluegreen.adapters.aws import translated
from bluegreen.domain.scaling import SuspendedState

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient

NAMESPACE: Final = "ecs"
DIMENSION: Final = "ecs:service:DesiredCount"


class ScalableTargets:
    def __init__(self, client: ApplicationAutoScalingClient) -> None:
        self._aas = client

    def describe(self, resource_id: str) -> dict[str, Any] | None:
        with translated():
            found = self._aas.describe_scalable_targets(
                ServiceNamespace=NAMESPACE, ResourceIds=[resource_id], ScalableDimension=DIMENSION
            )
        targets = found.get("ScalableTargets", [])
        return dict(targets[0]) if targets else None

    def set_suspended(self, resource_id: str, state: SuspendedState) -> None:
        # Registering an existing target with only SuspendedState changes nothing else.
        with translated():
            self._aas.register_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id,
                ScalableDimension=DIMENSION,
                SuspendedState=state,
            )
