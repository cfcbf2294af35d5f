"""Local ECS rolling deployments: what moto leaves out of a service with the ``ECS`` controller.

moto keeps a service's ``deployments`` as they were when it was created: its one deployment
stays ``IN_PROGRESS`` with no task running, ``UpdateService`` with a new task definition
creates no deployment, and ``deploymentConfiguration`` (the deployment circuit breaker) is
dropped on ``CreateService``. :class:`EcsRollouts` plays ECS's rolling update on moto's own
backends, in every account and region, so that ``DescribeServices`` moves the way it does on
AWS:

    UpdateService(taskDefinition=new)   a new PRIMARY deployment, ``IN_PROGRESS``
                                        ("ECS deployment ecs-svc/... in progress."), pending
                                        tasks; the deployment it replaces becomes ACTIVE
    its tasks start                     runningCount reaches desiredCount
    the old tasks are drained           the ACTIVE deployment is removed; the PRIMARY one is
                                        ``COMPLETED`` ("ECS deployment ecs-svc/... completed.")

A service whose new tasks are made to fail (:meth:`EcsRollouts.fail_new_tasks`, the local
stand-in for a broken image) never gets the tasks of a new revision running (one it has run
to completion before still starts: that image works): each attempt counts in the
deployment's ``failedTasks``. With the deployment circuit breaker on
(``deploymentConfiguration.deploymentCircuitBreaker.enable``), the deployment turns
``FAILED`` ("ECS deployment circuit breaker: tasks failed to start.") once ``failedTasks``
reaches the breaker's threshold (half the desired count, at least 3 and at most 200). With its
``rollback`` on too, the last ``COMPLETED`` deployment (still running its tasks: the old ones
are kept while the new fail) becomes PRIMARY again, ``IN_PROGRESS`` ("ECS deployment circuit
breaker: rolling back to deploymentId ecs-svc/...."), the service's task definition is its
own again, and once the failed deployment's tasks are gone it is ``COMPLETED``. Without the
breaker, the deployment stays ``IN_PROGRESS`` and keeps trying, as on ECS.

Choices where AWS leaves room: old tasks are kept until the new ones run (the default
``minimumHealthyPercent`` of 100); a task takes ``RolloutTiming.task_start_seconds`` to run
and one failing attempt ``task_failure_seconds``; a rollback re-uses the deployment it rolls
back to (its id, as ECS's rollback reason names it). ``UpdateService`` with the task
definition the PRIMARY deployment already runs starts nothing, unless ``forceNewDeployment``.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.ecs.models import ecs_backends

from bluegreen_cli.local.periodic import Periodic

logger = logging.getLogger(__name__)

ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."

JsonResponse = tuple[int, dict[str, Any]]
# Lets moto answer the request with the body given: its status and JSON document.
MotoCall = Callable[[dict[str, Any]], JsonResponse]

# What ECS reports for an ``ECS``-controller service that was created without them.
DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
# The deployment circuit breaker's threshold: half the desired count, within these bounds.
BREAKER_MIN_THRESHOLD = 3
BREAKER_MAX_THRESHOLD = 200

TASKS_FAILED_TO_START = "ECS deployment circuit breaker: tasks failed to start."


def in_progress_reason(deployment_id: str) -> str:
    return f"ECS deployment {deployment_id} in progress."


def completed_reason(deployment_id: str) -> str:
    return f"ECS deployment {deployment_id} completed."


def rolling_back_reason(deployment_id: str) -> str:
    return f"ECS deployment circuit breaker: rolling back to deploymentId {deployment_id}."


def breaker_threshold(desired_count: int) -> int:
    """The failed tasks after which the deployment circuit breaker fails a deployment."""
    half = math.ceil(0.5 * desired_count)
    return max(BREAKER_MIN_THRESHOLD, min(BREAKER_MAX_THRESHOLD, half))


@dataclass(frozen=True)
class RolloutTiming:
    """How long ECS's work takes locally, in seconds (minutes on AWS)."""

    task_start_seconds: float = 1.0  # a new task from PENDING to RUNNING
    drain_seconds: float = 1.0  # the replaced deployment's tasks stopped, once the new run
    task_failure_seconds: float = 0.5  # one attempt at a task that fails to start
    rollback_seconds: float = 3.0  # the failed deployment's tasks stopped after a rollback
    tick_seconds: float = 0.1


ServiceKey = tuple[str, str, str, str]  # account, region, cluster name, service name


@dataclass(frozen=True)
class CompletedRollout:
    """A deployment of a service that reached ``COMPLETED``: the one that rolled a task
    definition out, or (``rollback``) the earlier one a circuit breaker rolled back to."""

    deployment_id: str
    task_definition: str
    started_at: float  # epoch seconds: it began rolling out (a rollback: rolling back)
    completed_at: float
    rollback: bool


@dataclass
class _Tracked:
    """The emulator's own memory of one deployment: where it is in its life, since when."""

    key: ServiceKey
    phase: str  # starting, draining, rolling-back, ended
    since: float
    attempt_at: float = 0.0  # a failing task's next attempt ends then
    started: float = field(init=False)  # when it began (rolling out, or back)

    def __post_init__(self) -> None:
        self.started = self.since


class EcsRollouts:
    """ECS rolling deployments on moto's in-process ECS backends, in every account.

    Wire it in front of moto: pass every ECS request (``X-Amz-Target`` starting with
    ``AmazonEC2ContainerServiceV20141113.``) to :meth:`handle` with the caller's account and
    region and a way to let moto answer; ``None`` means "let moto answer as it is". Time
    moves on a daemon ticker (:meth:`start`/:meth:`stop`) and on every call.
    """

    def __init__(
        self, timing: RolloutTiming | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.timing = timing or RolloutTiming()
        self._clock = clock
        self._lock = threading.RLock()
        self._tracked: dict[str, _Tracked] = {}
        self._failing: set[ServiceKey] = set()
        # The revisions each service has run to completion: their tasks start, whatever fails.
        self._proven: dict[ServiceKey, set[str]] = {}
        self._completed: dict[ServiceKey, list[CompletedRollout]] = {}
        self._ticker = Periodic("ecs-rollouts", self.timing.tick_seconds, self.tick)

    # -- wiring ---------------------------------------------------------------------------

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def fail_new_tasks(
        self, account: str, region: str, cluster: str, service: str, failing: bool = True
    ) -> None:
        """Make the service's new tasks fail to start (a broken image), or start again."""
        key = (account, region, cluster.split("/")[-1], service.split("/")[-1])
        with self._lock:
            if failing:
                self._failing.add(key)
            else:
                self._failing.discard(key)
        logger.info("new tasks of %s/%s %s", key[2], key[3], "fail" if failing else "start")

    def new_tasks_fail(self, account: str, region: str, cluster: str, service: str) -> bool:
        with self._lock:
            return (account, region, cluster, service) in self._failing

    def completed(
        self, account: str, region: str, cluster: str, service: str
    ) -> list[CompletedRollout]:
        """The service's deployments that reached COMPLETED, in the order they did.

        AWS keeps a service's deployments (ListServiceDeployments, DescribeServiceDeployments),
        which the local stack does not serve; an observer beside it (a benchmark checking
        which image went where) reads them here.
        """
        key = (account, region, cluster.split("/")[-1], service.split("/")[-1])
        with self._lock:
            return list(self._completed.get(key, []))

    def handle(
        self, target: str, body: dict[str, Any], account: str, region: str, moto: MotoCall
    ) -> JsonResponse | None:
        """The answer to an ECS call on an ``ECS``-controller service; None lets moto answer."""
        if not target.startswith(ECS_TARGET_PREFIX):
            return None
        self.tick()  # what ECS answers reflects the deployments' progress
        operation = target.removeprefix(ECS_TARGET_PREFIX)
        if operation == "CreateService":
            return self._create_service(body, account, region, moto)
        if operation == "UpdateService":
            return self._update_service(body, account, region, moto)
        return None

    # -- CreateService and UpdateService ----------------------------------------------------

    def _create_service(
        self, body: dict[str, Any], account: str, region: str, moto: MotoCall
    ) -> JsonResponse:
        status, document = moto(body)
        controller = (body.get("deploymentController") or {}).get("type", "ECS")
        if status != 200 or controller != "ECS":
            return status, document
        with self._lock:
            service = self._service(account, region, body.get("cluster"), body.get("serviceName"))
            if service is None:
                return status, document
            service.deployment_configuration = {
                **DEFAULT_DEPLOYMENT_CONFIGURATION,
                **(body.get("deploymentConfiguration") or {}),
            }
            for deployment in service.deployments:
                self._tracked[deployment["id"]] = _Tracked(
                    (account, region, service.cluster_name, service.name), "starting", self._clock()
                )
                self._begin_attempts(self._tracked[deployment["id"]])
            return status, {**document, "service": self._shown(service, document["service"])}

    def _update_service(
        self, body: dict[str, Any], account: str, region: str, moto: MotoCall
    ) -> JsonResponse | None:
        with self._lock:
            service = self._service(account, region, body.get("cluster"), body.get("service"))
            if service is None or _controller(service) != "ECS":
                return None
            # moto would replace the whole configuration, and re-label the PRIMARY deployment
            # on a forced one: both are ECS's to apply, here.
            forced = bool(body.get("forceNewDeployment"))
            configuration = body.get("deploymentConfiguration")
            passed = {
                k: v
                for k, v in body.items()
                if k not in ("forceNewDeployment", "deploymentConfiguration")
            }
            status, document = moto(passed)
            if status != 200:
                return status, document
            if configuration:
                service.deployment_configuration = {
                    **(getattr(service, "deployment_configuration", None) or {}),
                    **configuration,
                }
            backend = ecs_backends[account][region]
            wanted = _resolved(backend, service.task_definition)
            primary = _primary(service)
            if forced or primary is None or primary.get("taskDefinition") != wanted:
                self._deploy(service, (account, region, service.cluster_name, service.name), wanted)
            else:
                service.task_definition = wanted
                self._follow_desired_count(service)
            return status, {**document, "service": self._shown(service, document["service"])}

    def _deploy(self, service: Any, key: ServiceKey, task_definition: str) -> None:
        """A new PRIMARY deployment of ``task_definition``; the others become ACTIVE."""
        now = self._clock()
        deployment_id = _new_deployment_id()
        at = _moment(now)
        previous = service.deployments[0] if service.deployments else {}
        deployment = {
            "id": deployment_id,
            "status": "PRIMARY",
            "taskDefinition": task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": service.desired_count,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": at,
            "updatedAt": at,
            "launchType": service.launch_type,
            "platformVersion": previous.get("platformVersion") or service.platform_version,
            "platformFamily": previous.get("platformFamily"),
            "networkConfiguration": service.network_configuration or None,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": in_progress_reason(deployment_id),
        }
        others = [{**d, "status": "ACTIVE", "updatedAt": at} for d in service.deployments]
        service.deployments = [deployment, *others]
        service.task_definition = task_definition
        tracked = _Tracked(key, "starting", now)
        self._begin_attempts(tracked)
        self._tracked[deployment_id] = tracked
        _count_tasks(service)
        logger.info("ECS deployment %s of %s/%s started", deployment_id, key[2], key[3])

    def _follow_desired_count(self, service: Any) -> None:
        """A new desired count is the PRIMARY deployment's; a completed one runs it."""
        deployments = []
        for deployment in service.deployments:
            if deployment["status"] == "PRIMARY":
                deployment = {**deployment, "desiredCount": service.desired_count}
                if deployment["rolloutState"] == "COMPLETED":
                    deployment |= {"runningCount": service.desired_count, "pendingCount": 0}
            deployments.append(deployment)
        service.deployments = deployments
        _count_tasks(service)

    # -- time -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Apply everything that is due by now, in every account's ECS backend."""
        with self._lock:
            now = self._clock()
            for account, regions in list(ecs_backends.items()):
                for region, backend in list(regions.items()):
                    for service in list(backend.services.values()):
                        if _controller(service) == "ECS" and service.status == "ACTIVE":
                            key = (account, region, service.cluster_name, service.name)
                            self._advance(service, key, now)

    def _advance(self, service: Any, key: ServiceKey, now: float) -> None:
        primary = _primary(service)
        if primary is None or primary["rolloutState"] != "IN_PROGRESS":
            return
        tracked = self._tracked.get(primary["id"])
        if tracked is None:  # created before us, or not through us: it starts now
            tracked = self._tracked[primary["id"]] = _Tracked(key, "starting", now)
            self._begin_attempts(tracked)
        if tracked.phase == "starting":
            self._starting(service, primary, tracked, now)
        elif tracked.phase in ("draining", "rolling-back"):
            wait = (
                self.timing.rollback_seconds
                if tracked.phase == "rolling-back"
                else self.timing.drain_seconds
            )
            if now - tracked.since >= wait:
                self._complete(service, primary, tracked, now)

    def _begin_attempts(self, tracked: _Tracked) -> None:
        tracked.attempt_at = tracked.since + self.timing.task_failure_seconds

    def _starting(
        self, service: Any, primary: dict[str, Any], tracked: _Tracked, now: float
    ) -> None:
        proven = primary["taskDefinition"] in self._proven.get(tracked.key, set())
        if tracked.key in self._failing and not proven:
            self._failed_attempts(service, primary, tracked, now)
            return
        # Should its tasks fail from now on, the first attempt ends this long after.
        tracked.attempt_at = now + self.timing.task_failure_seconds
        if now - tracked.since < self.timing.task_start_seconds:
            return
        # The new tasks run: the old ones are drained next.
        running = {
            **primary,
            "runningCount": primary["desiredCount"],
            "pendingCount": 0,
            "updatedAt": _moment(now),
        }
        self._replace(service, running)
        tracked.phase, tracked.since = "draining", now

    def _failed_attempts(
        self, service: Any, primary: dict[str, Any], tracked: _Tracked, now: float
    ) -> None:
        failed = int(primary.get("failedTasks") or 0)
        while tracked.attempt_at <= now:
            failed += 1
            tracked.attempt_at += self.timing.task_failure_seconds
        # The attempt under way began then: should the tasks start again, they run from it.
        tracked.since = tracked.attempt_at - self.timing.task_failure_seconds
        if failed == primary.get("failedTasks"):
            return
        counted = {**primary, "failedTasks": failed, "updatedAt": _moment(now)}
        self._replace(service, counted)
        breaker = (getattr(service, "deployment_configuration", None) or {}).get(
            "deploymentCircuitBreaker"
        ) or {}
        if breaker.get("enable") and failed >= breaker_threshold(primary["desiredCount"]):
            self._trip(service, counted, tracked, bool(breaker.get("rollback")), now)

    def _trip(
        self,
        service: Any,
        failing: dict[str, Any],
        tracked: _Tracked,
        rollback: bool,
        now: float,
    ) -> None:
        """The deployment circuit breaker fails the deployment, and rolls back if it may."""
        at = _moment(now)
        failed = {
            **failing,
            "rolloutState": "FAILED",
            "rolloutStateReason": TASKS_FAILED_TO_START,
            "pendingCount": 0,
            "updatedAt": at,
        }
        tracked.phase = "ended"
        target = next(
            (
                d
                for d in service.deployments
                if d["status"] == "ACTIVE" and d["rolloutState"] == "COMPLETED"
            ),
            None,
        )
        key = tracked.key
        if not rollback or target is None:
            self._replace(service, failed)
            logger.info("ECS deployment %s of %s/%s failed", failed["id"], key[2], key[3])
            return
        back = {
            **target,
            "status": "PRIMARY",
            "desiredCount": service.desired_count,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": rolling_back_reason(target["id"]),
            "updatedAt": at,
        }
        rest = [d for d in service.deployments if d["id"] not in (failed["id"], target["id"])]
        service.deployments = [back, {**failed, "status": "ACTIVE"}, *rest]
        service.task_definition = back["taskDefinition"]
        self._tracked[target["id"]] = _Tracked(key, "rolling-back", now)
        _count_tasks(service)
        logger.info(
            "ECS deployment %s of %s/%s failed; rolling back to %s",
            failed["id"],
            key[2],
            key[3],
            target["id"],
        )

    def _complete(
        self, service: Any, primary: dict[str, Any], tracked: _Tracked, now: float
    ) -> None:
        """The replaced deployments' tasks are gone: the PRIMARY one reached steady state."""
        done = {
            **primary,
            "runningCount": primary["desiredCount"],
            "pendingCount": 0,
            "rolloutState": "COMPLETED",
            "rolloutStateReason": completed_reason(primary["id"]),
            "updatedAt": _moment(now),
        }
        for deployment in service.deployments:
            if deployment["id"] != primary["id"]:
                self._tracked.pop(deployment["id"], None)
        service.deployments = [done]
        service.task_definition = done["taskDefinition"]
        self._proven.setdefault(tracked.key, set()).add(done["taskDefinition"])
        self._completed.setdefault(tracked.key, []).append(
            CompletedRollout(
                deployment_id=str(done["id"]),
                task_definition=str(done["taskDefinition"]),
                started_at=tracked.started,
                completed_at=now,
                rollback=tracked.phase == "rolling-back",
            )
        )
        tracked.phase = "ended"
        _count_tasks(service)
        logger.info("ECS deployment %s of %s/%s completed", done["id"], *tracked.key[2:])

    # -- moto's objects -------------------------------------------------------------------

    @staticmethod
    def _service(account: str, region: str, cluster: Any, name: Any) -> Any:
        if not isinstance(name, str) or not name:
            return None
        cluster_name = str(cluster or "default").split("/")[-1]
        backend = ecs_backends[account][region]
        return backend.services.get(f"{cluster_name}:{name.split('/')[-1]}")

    @staticmethod
    def _replace(service: Any, deployment: dict[str, Any]) -> None:
        service.deployments = [
            deployment if d["id"] == deployment["id"] else d for d in service.deployments
        ]
        _count_tasks(service)

    @staticmethod
    def _shown(service: Any, document: dict[str, Any]) -> dict[str, Any]:
        """moto's answer for the service, with what ECS reports that moto does not know."""
        return {
            **document,
            "taskDefinition": service.task_definition,
            "runningCount": service.running_count,
            "pendingCount": service.pending_count,
            "deploymentConfiguration": getattr(service, "deployment_configuration", None)
            or DEFAULT_DEPLOYMENT_CONFIGURATION,
            "deployments": [_json_deployment(d) for d in service.deployments],
        }


def _controller(service: Any) -> str:
    return str((service.deployment_controller or {}).get("type", "ECS"))


def _primary(service: Any) -> dict[str, Any] | None:
    return next((d for d in service.deployments if d.get("status") == "PRIMARY"), None)


def _resolved(backend: Any, task_definition: Any) -> str:
    """The task definition's ARN, as ECS reports it (moto keeps ``family:revision``)."""
    try:
        return str(backend.describe_task_definition(str(task_definition)).arn)
    except Exception:  # moto's own errors: ECS answered the update already, keep its words
        return str(task_definition)


def _count_tasks(service: Any) -> None:
    """A service's running and pending tasks are its deployments'."""
    service.running_count = sum(int(d.get("runningCount") or 0) for d in service.deployments)
    service.pending_count = sum(int(d.get("pendingCount") or 0) for d in service.deployments)


def _new_deployment_id() -> str:
    return f"ecs-svc/{secrets.randbelow(10**19 - 10**18) + 10**18}"


def _moment(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _json_deployment(deployment: dict[str, Any]) -> dict[str, Any]:
    """A deployment as the JSON protocol carries it: timestamps in epoch seconds."""
    return {
        key: value.timestamp() if isinstance(value, datetime) else value
        for key, value in deployment.items()
        if value is not None
    }
