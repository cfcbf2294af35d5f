"""Start, watch and roll back an ECS rolling deployment (method ``rolling``).

No scaling is suspended: ECS's rolling update keeps the service's desired count, and the
lock alone keeps other deployments of ours out. Each step may run twice for one decision
(a retry after a lost answer), so each looks at the service before it acts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bluegreen.domain import rollout as rules
from bluegreen.errors import ConfigurationInvalid, RolloutFailed
from bluegreen.models import DeploymentState, RenderResult, RolloutProgress


class Services(Protocol):
    def describe(self, cluster: str, service: str) -> dict[str, Any]: ...
    def update(self, cluster: str, service: str, task_definition: str) -> dict[str, Any]: ...


class Locks(Protocol):
    def acquire_lock(self, key: str, owner: str, now: datetime) -> None: ...


def start(
    state: DeploymentState, services: Services, locks: Locks, now: datetime
) -> DeploymentState:
    """Roll the service out to the rendered revision, under the service's lock.

    A retry finds the deployment an earlier attempt started (the service's deployment of
    that revision) and starts no other.
    """
    render = _rendered(state)
    service = state.service
    locks.acquire_lock(service.lock_key, state.execution_name, now)
    described = services.describe(service.cluster, service.service)
    if rules.controller(described) != "ECS":
        raise ConfigurationInvalid(
            f"ECS service {service.cluster}/{service.service} uses the "
            f"{rules.controller(described)} deployment controller: method 'rolling' needs ECS"
        )
    found = rules.deployment_of(described, render.task_definition)
    if found is None:
        updated = services.update(service.cluster, service.service, render.task_definition)
        found = rules.deployment_of(updated, render.task_definition)
    if found is None:
        raise RolloutFailed(f"ECS started no deployment of {render.task_definition}")
    progress = rules.started(found, render.task_definition, render.previous_task_definition, now)
    return state.model_copy(update={"rollout": progress})


def look(state: DeploymentState, services: Services, now: datetime) -> DeploymentState:
    """CheckRollout's and RollBackRollout's one function: a look at the rollout while nothing
    has failed; once a Catch put a failure at ``$.error``, the rollback and its watch."""
    if state.error is None:
        return check(state, services, now)
    return roll_back(state, services, now)


def check(state: DeploymentState, services: Services, now: datetime) -> DeploymentState:
    """One look at the rollout (the state machine waits between looks)."""
    progress = _progress(state)
    service = state.service
    described = services.describe(service.cluster, service.service)
    seen = rules.observe(progress, described, service.timings, now)
    return state.model_copy(update={"rollout": seen})


def roll_back(state: DeploymentState, services: Services, now: datetime) -> DeploymentState:
    """Bring the service back to the revision it ran, then watch until it is steady there.

    The first call decides: ECS's circuit breaker already rolls back (watch it), the rollout
    is still under way or failed without ECS's rollback (update the service back), it had
    completed (a failure of ours never rolls back a live release), or nothing was started.
    Every later call looks at the rollback once more.
    """
    render = _rendered(state)
    service = state.service
    rollout = state.rollout
    if rollout is None or rollout.rollback is None:
        described = services.describe(service.cluster, service.service)
        plan = rules.plan_rollback(
            rollout, described, render.task_definition, render.previous_task_definition, now
        )
        rollback = plan.rollback
        if plan.plan == "update":
            updated = services.update(
                service.cluster, service.service, render.previous_task_definition
            )
            rollback = rules.updated_back(rollback, updated)
        base = plan.rollout or RolloutProgress(
            task_definition=render.task_definition,
            previous_task_definition=render.previous_task_definition,
        )
        rollout = base.model_copy(update={"rollback": rollback})
        if rollback.finished:
            return state.model_copy(update={"rollout": rollout})
    assert rollout.rollback is not None
    described = services.describe(service.cluster, service.service)
    watched = rules.watch_rollback(rollout.rollback, described, service.timings, now)
    return state.model_copy(update={"rollout": rollout.model_copy(update={"rollback": watched})})


def _rendered(state: DeploymentState) -> RenderResult:
    if state.render is None:
        raise ValueError("a rollout before the task definition was rendered")
    return state.render


def _progress(state: DeploymentState) -> RolloutProgress:
    if state.rollout is None:
        raise ValueError("no rollout in the execution state")
    return state.rollout
