"""Application Auto Scaling ``RegisterScalableTarget`` as AWS shows its result.

- ``RoleARN``: registering an ECS service without one makes Application Auto Scaling use
  its service-linked role, and ``DescribeScalableTargets`` shows that role's ARN; moto
  shows null.
- ``SuspendedState``: moto stores the object as given, so a partial one drops the flags it
  does not name (and a target registered without one shows none). AWS documents no merge
  for a partial ``SuspendedState``; the least surprising emulation keeps the flags a request
  does not name unchanged (``false`` on a new target). The app does not rely on either
  reading: every ``RegisterScalableTarget`` it sends carries all three flags.
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends

SUSPENSION_FLAGS = (
    "DynamicScalingInSuspended",
    "DynamicScalingOutSuspended",
    "ScheduledScalingSuspended",
)
# Service namespace -> the service-linked role Application Auto Scaling uses for it.
_SERVICE_LINKED_ROLES = {
    "ecs": "ecs.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_ECSService",
}


def service_linked_role(namespace: str, account_id: str) -> str | None:
    path = _SERVICE_LINKED_ROLES.get(namespace)
    return f"arn:aws:iam::{account_id}:role/aws-service-role/{path}" if path else None


def completed_register_scalable_target(
    body: dict[str, Any], account_id: str, region: str
) -> dict[str, Any]:
    """The request to hand to moto: the default role filled in, unnamed flags kept."""
    backend = applicationautoscaling_backends[account_id][region]
    dimension = str(body.get("ScalableDimension", ""))
    existing: Any = backend.targets.get(dimension, {}).get(str(body.get("ResourceId", "")))
    completed = dict(body)
    if not completed.get("RoleARN") and (existing is None or not existing.role_arn):
        role = service_linked_role(str(body.get("ServiceNamespace", "")), account_id)
        if role is not None:
            completed["RoleARN"] = role
            if existing is not None:
                existing.role_arn = role  # moto's update leaves the role as it was
    named = completed.get("SuspendedState")
    if isinstance(named, dict) or existing is None:
        prior: dict[str, Any] = dict(existing.suspended_state or {}) if existing else {}
        named = named if isinstance(named, dict) else {}
        completed["SuspendedState"] = {
            flag: bool(named.get(flag, prior.get(flag, False))) for flag in SUSPENSION_FLAGS
        }
    return completed
