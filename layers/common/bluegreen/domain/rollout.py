"""ECS rolling deployments (method ``rolling``): what a service's description says.

``UpdateService`` with a new task definition makes ECS start a deployment of it: the
service's PRIMARY deployment, ``rolloutState`` ``IN_PROGRESS``, then ``COMPLETED`` once its
tasks run and the old ones are drained. With the deployment circuit breaker on, tasks that
keep failing make it ``FAILED`` (``rolloutStateReason`` says why, e.g. "ECS deployment circuit
breaker: tasks failed to start."); with its rollback on, ECS makes the last completed
deployment PRIMARY again and rolls the service back itself. Everything here reads a service
as ``DescribeServices`` returns it; nothing calls AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bluegreen.domain.deployment import rollback_max_checks
from bluegreen.errors import RollbackIncomplete, RolloutFailed, RolloutTimedOut
from bluegreen.models import RolloutProgress, RolloutRollback, Timings

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
# How ECS words the rollback deployment its circuit breaker starts.
BREAKER_ROLLBACK = "ECS deployment circuit breaker: rolling back"


def deployments(service: dict[str, Any]) -> list[dict[str, Any]]:
    return list(service.get("deployments") or [])


def primary(service: dict[str, Any]) -> dict[str, Any] | None:
    return next((d for d in deployments(service) if d.get("status") == "PRIMARY"), None)


def deployment_of(service: dict[str, Any], task_definition: str) -> dict[str, Any] | None:
    """The deployment ECS runs ``task_definition`` with (the PRIMARY one first), if any."""
    found = [d for d in deployments(service) if d.get("taskDefinition") == task_definition]
    found.sort(key=lambda d: d.get("status") != "PRIMARY")
    return found[0] if found else None


def by_id(service: dict[str, Any], deployment_id: str | None) -> dict[str, Any] | None:
    return next(
        (d for d in deployments(service) if deployment_id and d.get("id") == deployment_id), None
    )


def controller(service: dict[str, Any]) -> str:
    return str((service.get("deploymentController") or {}).get("type", "ECS"))


def steady(service: dict[str, Any], deployment_id: str) -> bool:
    """The deployment is the service's only one, COMPLETED: nothing else runs or drains."""
    found = deployments(service)
    return (
        len(found) == 1
        and found[0].get("id") == deployment_id
        and found[0].get("rolloutState") == COMPLETED
    )


def tasks(deployment: dict[str, Any]) -> str:
    """``1 of 2 tasks running``, and the failed ones when there are."""
    running, desired = (
        int(deployment.get("runningCount") or 0),
        int(deployment.get("desiredCount") or 0),
    )
    failed = int(deployment.get("failedTasks") or 0)
    said = f"{running} of {desired} tasks running"
    return said + (f", {failed} failed to start" if failed else "")


def started(
    deployment: dict[str, Any], task_definition: str, previous: str, now: datetime
) -> RolloutProgress:
    """The rollout as ECS started it (or as a retry finds it)."""
    return _seen(
        RolloutProgress(
            deployment_id=str(deployment["id"]),
            task_definition=task_definition,
            previous_task_definition=previous,
            started_at=now,
        ),
        deployment,
    )


def _seen(progress: RolloutProgress, deployment: dict[str, Any]) -> RolloutProgress:
    return progress.model_copy(
        update={
            "rollout_state": str(deployment.get("rolloutState") or IN_PROGRESS),
            "reason": _cut(deployment.get("rolloutStateReason")),
            "desired_count": int(deployment.get("desiredCount") or 0),
            "running_count": int(deployment.get("runningCount") or 0),
            "pending_count": int(deployment.get("pendingCount") or 0),
            "failed_tasks": int(deployment.get("failedTasks") or 0),
        }
    )


def observe(
    progress: RolloutProgress, service: dict[str, Any], timings: Timings, now: datetime
) -> RolloutProgress:
    """One more look at the rollout: the new progress, or a named error.

    ``COMPLETED`` (the deployment PRIMARY): done. ``FAILED``: :class:`RolloutFailed` with
    ECS's reason. Replaced by another deployment: :class:`RolloutFailed` too. Still
    ``IN_PROGRESS`` after ``deployment_max_polls`` looks: :class:`RolloutTimedOut`.
    """
    deployment_id = progress.deployment_id
    found = by_id(service, deployment_id)
    polls = progress.polls + 1
    if found is None:
        now_primary = primary(service) or {}
        raise RolloutFailed(
            f"ECS deployment {deployment_id} is gone: the service runs "
            f"{now_primary.get('taskDefinition', 'nothing')} ({now_primary.get('id', '?')})"
        )
    looked = _seen(progress, found).model_copy(update={"polls": polls})
    if looked.rollout_state == FAILED:
        raise RolloutFailed(
            f"ECS deployment {deployment_id} failed: {looked.reason or 'no reason given'}"
        )
    if found.get("status") != "PRIMARY":
        replaced_by = primary(service) or {}
        why = replaced_by.get("rolloutStateReason")
        raise RolloutFailed(
            f"ECS deployment {deployment_id} was replaced by {replaced_by.get('id', '?')} "
            f"({replaced_by.get('taskDefinition', '?')})" + (f": {why}" if why else "")
        )
    if looked.rollout_state == COMPLETED:
        return looked.model_copy(update={"completed": True, "finished_at": now})
    if polls >= timings.deployment_max_polls:
        raise RolloutTimedOut(
            f"ECS deployment {deployment_id} is still {looked.rollout_state} after {polls} polls "
            f"{timings.deployment_poll_seconds} s apart ({tasks(found)})"
        )
    return looked


Plan = Literal["live", "update", "watch", "nothing"]


@dataclass(frozen=True)
class RollbackPlan:
    """What rolling back needs: nothing (``live``: the release completed and is left alone;
    ``nothing``: the service was never changed), an ``update`` back to the previous revision,
    or to ``watch`` the rollback already under way (ECS's circuit breaker's, or ours)."""

    plan: Plan
    rollback: RolloutRollback
    rollout: RolloutProgress | None  # the rollout as the service shows it now


def plan_rollback(
    progress: RolloutProgress | None,
    service: dict[str, Any],
    task_definition: str,
    previous: str,
    now: datetime,
) -> RollbackPlan:
    """How to bring the service back to ``previous``, from what it runs now.

    ``progress`` is the rollout as last seen (None when StartRollout never answered): our
    deployment is found by its id, else by its task definition (an UpdateService whose
    answer was lost).
    """
    ours = by_id(service, progress.deployment_id if progress else None) or deployment_of(
        service, task_definition
    )
    head = primary(service) or {}
    leads = ours is not None and ours.get("id") == head.get("id")  # ours is the PRIMARY one
    if progress is None and ours is not None:
        progress = started(ours, task_definition, previous, now)
    elif progress is not None and ours is not None:
        progress = _seen(progress, ours).model_copy(update={"deployment_id": ours["id"]})
    if ours is not None and leads and ours.get("rolloutState") == COMPLETED:
        detail = f"not rolled back: ECS deployment {ours['id']} had COMPLETED ({tasks(ours)})"
        assert progress is not None
        done = progress.model_copy(update={"completed": True, "finished_at": now})
        return RollbackPlan("live", _finished("nobody", detail, now), done)
    if ours is not None and leads:
        # Still rolling out (or FAILED without ECS's rollback): back to the previous revision.
        state = ours.get("rolloutState")
        detail = f"updated the service back to {previous}: ECS deployment {ours['id']} was {state}"
        return RollbackPlan(
            "update",
            RolloutRollback(
                by="bluegreen", detail=detail, started_at=now, task_definition=previous
            ),
            progress,
        )
    progress_id = progress.deployment_id if progress else None
    if ours is None and progress_id is None:
        detail = "nothing to roll back: no ECS deployment of the new revision was started"
        return RollbackPlan("nothing", _finished("nobody", detail, now), progress)
    # Another deployment is PRIMARY: ECS's circuit breaker rolls back, or our own update back
    # (a retry whose first answer was lost: ours is still there, not FAILED).
    back_to = str(head.get("taskDefinition", previous))
    breaker = (
        (ours or {}).get("rolloutState") == FAILED
        or (progress is not None and progress.rollout_state == FAILED)
        or str(head.get("rolloutStateReason", "")).startswith(BREAKER_ROLLBACK)
    )
    by: Literal["ecs", "bluegreen"] = "bluegreen" if ours is not None and not breaker else "ecs"
    if breaker:
        detail = f"ECS's deployment circuit breaker rolled the service back to {back_to}"
    elif by == "bluegreen":
        detail = f"the service was updated back to {back_to}"
    else:  # ours is gone, how is not said: ECS put the service back
        detail = f"ECS put the service back on {back_to}: ECS deployment {progress_id} is gone"
    rollback = RolloutRollback(
        by=by,
        detail=f"{detail} (ECS deployment {head.get('id', '?')})",
        started_at=now,
        deployment_id=head.get("id"),
        task_definition=back_to,
        rollout_state=head.get("rolloutState"),
    )
    return RollbackPlan("watch", rollback, progress)


def _finished(
    by: Literal["ecs", "bluegreen", "nobody"], detail: str, now: datetime
) -> RolloutRollback:
    return RolloutRollback(by=by, detail=detail, started_at=now, finished=True, finished_at=now)


def updated_back(rollback: RolloutRollback, service: dict[str, Any]) -> RolloutRollback:
    """The rollback once UpdateService answered: the deployment bringing the revision back."""
    head = primary(service) or {}
    return rollback.model_copy(
        update={
            "deployment_id": head.get("id"),
            "rollout_state": head.get("rolloutState"),
            "detail": f"{rollback.detail}; ECS deployment {head.get('id', '?')} rolls it back",
        }
    )


def watch_rollback(
    rollback: RolloutRollback, service: dict[str, Any], timings: Timings, now: datetime
) -> RolloutRollback:
    """One look at the rollback: finished once the service is steady on the revision it
    returns to; :class:`RollbackIncomplete` when it fails, another revision takes over, or
    it does not end within its budget (the service's poll budget, at most the history's)."""
    checks = rollback.checks + 1
    head = primary(service) or {}
    looked = rollback.model_copy(
        update={"checks": checks, "rollout_state": head.get("rolloutState")}
    )
    if rollback.task_definition and head.get("taskDefinition") != rollback.task_definition:
        raise RollbackIncomplete(
            f"the service runs {head.get('taskDefinition', 'nothing')} ({head.get('id', '?')}), "
            f"not {rollback.task_definition}: someone else changed it while it rolled back"
        )
    if head.get("rolloutState") == FAILED:
        raise RollbackIncomplete(
            f"ECS's rollback deployment {head.get('id')} failed: {head.get('rolloutStateReason')}; "
            "the service may not be back on its previous revision"
        )
    if head.get("id") and steady(service, str(head["id"])):
        return looked.model_copy(
            update={"deployment_id": head["id"], "finished": True, "finished_at": now}
        )
    if checks >= rollback_max_checks(timings):
        raise RollbackIncomplete(
            f"waited for ECS deployment {head.get('id', '?')} to bring back "
            f"{rollback.task_definition}: still {head.get('rolloutState')} ({tasks(head)}) after "
            f"{checks} checks; the service may not be back on its previous revision"
        )
    return looked


def _cut(text: Any, most: int = 1024) -> str | None:
    return None if text is None else str(text)[:most]
