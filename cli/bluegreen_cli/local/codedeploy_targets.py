"""What CodeDeploy's deployment-target APIs show of an ECS deployment.

An ECS deployment has one target, the service, named ``<cluster>:<service>`` (the API
reference of ``BatchGetDeploymentTargets``). Its ``ecsTarget`` carries the target's status,
the deployment's lifecycle events as they happen, and the blue and green task sets with the
share of production traffic each one gets.

Choices where AWS leaves room: a stopped deployment's target is ``Failed`` (``Stopped`` is no
target status); a rollback deployment skips the install events and reroutes traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ECS_LIFECYCLE_EVENTS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)

_TARGET_STATUS = {
    "Created": "Pending",
    "Queued": "Pending",
    "InProgress": "InProgress",
    "Baking": "InProgress",
    "Ready": "Ready",
    "Succeeded": "Succeeded",
    "Failed": "Failed",
    "Stopped": "Failed",
}


def target_status(deployment_status: str) -> str:
    return _TARGET_STATUS.get(deployment_status, "Unknown")


@dataclass
class _Event:
    name: str
    status: str = "Pending"
    start: float | None = None
    end: float | None = None

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {"lifecycleEventName": self.name, "status": self.status}
        if self.start is not None:
            found["startTime"] = self.start
        if self.end is not None:
            found["endTime"] = self.end
        return found


@dataclass
class Lifecycle:
    """The lifecycle events of one ECS deployment, moved on as the deployment moves."""

    events: list[_Event] = field(default_factory=lambda: [_Event(n) for n in ECS_LIFECYCLE_EVENTS])

    def begin(self, name: str, at: float) -> None:
        """Every event before ``name`` has succeeded; ``name`` is under way."""
        self.succeed_before(name, at)
        event = self._event(name)
        if event.status == "Pending":
            event.status, event.start = "InProgress", at

    def succeed_before(self, name: str, at: float) -> None:
        for event in self.events:
            if event.name == name:
                return
            if event.status in ("Pending", "InProgress"):
                event.start = at if event.start is None else event.start
                event.status, event.end = "Succeeded", at

    def succeed_all(self, at: float) -> None:
        for event in self.events:
            if event.status in ("Pending", "InProgress"):
                event.start = at if event.start is None else event.start
                event.status, event.end = "Succeeded", at

    def skip_before(self, name: str) -> None:
        """A rollback reroutes traffic without installing anything."""
        for event in self.events:
            if event.name == name:
                return
            event.status = "Skipped"

    def end_unfinished(self, at: float) -> None:
        """The deployment ended early: what ran failed, what never ran is skipped."""
        for event in self.events:
            if event.status == "InProgress":
                event.status, event.end = "Failed", at
            elif event.status == "Pending":
                event.status = "Skipped"

    def documents(self) -> list[dict[str, Any]]:
        return [event.document() for event in self.events]

    def _event(self, name: str) -> _Event:
        return next(event for event in self.events if event.name == name)


def task_set_info(task_set: Any, label: str, weight: float, target_group: str) -> dict[str, Any]:
    """An ``ECSTaskSet`` entry of an ``ecsTarget`` (the API spells its id ``identifer``)."""
    return {
        "identifer": str(task_set.id),
        "desiredCount": int(getattr(task_set, "computed_desired_count", 0) or 0),
        "pendingCount": int(getattr(task_set, "pending_count", 0) or 0),
        "runningCount": int(getattr(task_set, "running_count", 0) or 0),
        "status": str(task_set.status),
        "trafficWeight": float(weight),
        "targetGroup": {"name": target_group},
        "taskSetLabel": label,
    }


def ecs_target(
    *,
    deployment_id: str,
    target_id: str,
    target_arn: str,
    status: str,
    updated_at: float,
    lifecycle: Lifecycle,
    task_sets: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "deploymentTargetType": "ECSTarget",
        "ecsTarget": {
            "deploymentId": deployment_id,
            "targetId": target_id,
            "targetArn": target_arn,
            "lastUpdatedAt": updated_at,
            "lifecycleEvents": lifecycle.documents(),
            "status": target_status(status),
            "taskSetsInfo": task_sets,
        },
    }
