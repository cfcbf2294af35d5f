"""ECS rolling deployments: what a service description says, and the rollout's steps.

The service descriptions are shaped as ECS's DescribeServices returns them; each test names
the ECS behaviour it reads.
"""

from __future__ import annotations

from typing import Any

import pytest
from bluegreen.domain import rollout as rules
from bluegreen.errors import (
    ConfigurationInvalid,
    RollbackIncomplete,
    RolloutFailed,
    RolloutTimedOut,
    ServiceLocked,
)
from bluegreen.models import RolloutProgress, Timings
from bluegreen.steps import rollout as steps

from tests.unit.builders import ACCOUNT, NOW, REGION, demo_service, rendered, state

OLD = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"
NEW = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:2"
TIMINGS = Timings(deployment_poll_seconds=15, deployment_max_polls=4)
FAILED_TO_START = "ECS deployment circuit breaker: tasks failed to start."


def deployment(
    deployment_id: str,
    task_definition: str,
    rollout: str = "IN_PROGRESS",
    status: str = "PRIMARY",
    reason: str | None = None,
    running: int = 0,
    desired: int = 2,
    failed: int = 0,
) -> dict[str, Any]:
    return {
        "id": deployment_id,
        "status": status,
        "taskDefinition": task_definition,
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": desired - running,
        "failedTasks": failed,
        "rolloutState": rollout,
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
    }


def service(*deployments: dict[str, Any], controller: str = "ECS") -> dict[str, Any]:
    head = next((d for d in deployments if d["status"] == "PRIMARY"), {})
    return {
        "serviceName": "web",
        "status": "ACTIVE",
        "taskDefinition": head.get("taskDefinition"),
        "deploymentController": {"type": controller},
        "deployments": list(deployments),
    }


def progress(**changes: Any) -> RolloutProgress:
    return RolloutProgress(
        deployment_id="ecs-svc/2", task_definition=NEW, previous_task_definition=OLD, **changes
    )


ROLLING_OUT = service(
    deployment("ecs-svc/2", NEW, running=1),
    deployment("ecs-svc/1", OLD, "COMPLETED", "ACTIVE", running=2),
)


# -- observe ----------------------------------------------------------------------------------


def test_a_rollout_in_progress_counts_its_tasks_and_polls() -> None:
    """ECS rolling update: the PRIMARY deployment IN_PROGRESS, its tasks starting."""
    seen = rules.observe(progress(), ROLLING_OUT, TIMINGS, NOW)

    assert (seen.rollout_state, seen.running_count, seen.desired_count, seen.polls) == (
        "IN_PROGRESS",
        1,
        2,
        1,
    )
    assert not seen.completed


def test_a_completed_primary_deployment_completes_the_rollout() -> None:
    """ECS rolling update: COMPLETED once the new tasks run and the old are drained."""
    done = service(deployment("ecs-svc/2", NEW, "COMPLETED", running=2))

    seen = rules.observe(progress(), done, TIMINGS, NOW)

    assert seen.completed
    assert seen.finished_at == NOW
    assert rules.tasks(done["deployments"][0]) == "2 of 2 tasks running"


def test_a_failed_deployment_fails_with_ecs_reason() -> None:
    """ECS deployment circuit breaker: FAILED, with its rolloutStateReason, and ECS's
    rollback to the last completed deployment under way."""
    tripped = service(
        deployment(
            "ecs-svc/1",
            OLD,
            reason="ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.",
        ),
        deployment("ecs-svc/2", NEW, "FAILED", "ACTIVE", FAILED_TO_START, failed=3),
    )

    with pytest.raises(RolloutFailed) as raised:
        rules.observe(progress(), tripped, TIMINGS, NOW)

    assert str(raised.value) == f"ECS deployment ecs-svc/2 failed: {FAILED_TO_START}"


def test_a_deployment_another_one_replaced_fails_the_rollout() -> None:
    """ECS UpdateService by someone else: a newer PRIMARY deployment, ours ACTIVE."""
    replaced = service(
        deployment("ecs-svc/3", OLD),
        deployment("ecs-svc/2", NEW, status="ACTIVE"),
    )

    with pytest.raises(RolloutFailed, match="replaced by ecs-svc/3"):
        rules.observe(progress(), replaced, TIMINGS, NOW)


def test_a_deployment_that_is_gone_fails_the_rollout() -> None:
    with pytest.raises(RolloutFailed, match=r"ecs-svc/2 is gone: the service runs .*web:1"):
        rules.observe(progress(), service(deployment("ecs-svc/1", OLD, "COMPLETED")), TIMINGS, NOW)


def test_the_poll_budget_runs_out_on_a_rollout_still_in_progress() -> None:
    looked = progress(polls=TIMINGS.deployment_max_polls - 1)

    with pytest.raises(RolloutTimedOut, match=r"still IN_PROGRESS after 4 polls 15 s apart"):
        rules.observe(looked, ROLLING_OUT, TIMINGS, NOW)


# -- plan and watch the rollback --------------------------------------------------------------


def test_ecs_circuit_breaker_rollback_is_watched_not_repeated() -> None:
    """ECS deployment circuit breaker with rollback: ECS rolls the service back itself."""
    tripped = service(
        deployment(
            "ecs-svc/1",
            OLD,
            reason="ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.",
        ),
        deployment("ecs-svc/2", NEW, "FAILED", "ACTIVE", FAILED_TO_START),
    )

    plan = rules.plan_rollback(progress(), tripped, NEW, OLD, NOW)

    assert plan.plan == "watch"
    assert plan.rollback.by == "ecs"
    assert (plan.rollback.deployment_id, plan.rollback.task_definition) == ("ecs-svc/1", OLD)
    assert "circuit breaker rolled the service back to" in plan.rollback.detail


def test_a_rollout_still_in_progress_is_updated_back() -> None:
    plan = rules.plan_rollback(progress(), ROLLING_OUT, NEW, OLD, NOW)

    assert plan.plan == "update"
    assert (plan.rollback.by, plan.rollback.task_definition) == ("bluegreen", OLD)


def test_a_failed_deployment_ecs_did_not_roll_back_is_updated_back() -> None:
    """ECS deployment circuit breaker without rollback: the FAILED deployment stays PRIMARY."""
    failed = service(
        deployment("ecs-svc/2", NEW, "FAILED", reason=FAILED_TO_START),
        deployment("ecs-svc/1", OLD, "COMPLETED", "ACTIVE", running=2),
    )

    assert rules.plan_rollback(progress(), failed, NEW, OLD, NOW).plan == "update"


def test_a_completed_rollout_is_left_alone() -> None:
    """A failure of ours after ECS completed the deployment never rolls back a live release."""
    done = service(deployment("ecs-svc/2", NEW, "COMPLETED", running=2))

    plan = rules.plan_rollback(progress(), done, NEW, OLD, NOW)

    assert plan.plan == "live"
    assert plan.rollout is not None
    assert plan.rollout.completed
    assert plan.rollback.finished


def test_an_update_whose_answer_was_lost_is_found_by_its_task_definition() -> None:
    plan = rules.plan_rollback(None, ROLLING_OUT, NEW, OLD, NOW)

    assert plan.plan == "update"
    assert plan.rollout is not None
    assert plan.rollout.deployment_id == "ecs-svc/2"


def test_nothing_is_rolled_back_when_no_deployment_was_started() -> None:
    untouched = service(deployment("ecs-svc/1", OLD, "COMPLETED", running=2))

    plan = rules.plan_rollback(None, untouched, NEW, OLD, NOW)

    assert (plan.plan, plan.rollback.by, plan.rollback.finished) == ("nothing", "nobody", True)


def test_a_retried_rollback_finds_its_own_update_back() -> None:
    """Our UpdateService back was made, its answer lost: the retry watches it, not another."""
    updated_back = service(
        deployment("ecs-svc/3", OLD), deployment("ecs-svc/2", NEW, status="ACTIVE")
    )

    plan = rules.plan_rollback(progress(), updated_back, NEW, OLD, NOW)

    assert (plan.plan, plan.rollback.by, plan.rollback.deployment_id) == (
        "watch",
        "bluegreen",
        "ecs-svc/3",
    )


def test_a_deployment_gone_before_its_failure_was_seen_is_put_back_by_ecs() -> None:
    """ECS's rollback ended between two looks: the failed deployment is drained and gone."""
    back = service(deployment("ecs-svc/1", OLD, "COMPLETED", running=2))

    plan = rules.plan_rollback(progress(), back, NEW, OLD, NOW)
    watched = rules.watch_rollback(plan.rollback, back, TIMINGS, NOW)

    assert (plan.plan, plan.rollback.by) == ("watch", "ecs")
    assert "ECS deployment ecs-svc/2 is gone" in plan.rollback.detail
    assert watched.finished


def test_a_rollback_ends_once_the_service_is_steady_on_the_previous_revision() -> None:
    watching = rules.plan_rollback(
        progress(rollout_state="FAILED"),
        service(deployment("ecs-svc/1", OLD), deployment("ecs-svc/2", NEW, "FAILED", "ACTIVE")),
        NEW,
        OLD,
        NOW,
    ).rollback

    still = rules.watch_rollback(
        watching,
        service(deployment("ecs-svc/1", OLD), deployment("ecs-svc/2", NEW, "FAILED", "ACTIVE")),
        TIMINGS,
        NOW,
    )
    assert (still.finished, still.checks) == (False, 1)

    done = rules.watch_rollback(
        still, service(deployment("ecs-svc/1", OLD, "COMPLETED", running=2)), TIMINGS, NOW
    )
    assert (done.finished, done.checks, done.finished_at) == (True, 2, NOW)


def test_a_rollback_that_does_not_end_in_its_budget_needs_attention() -> None:
    watching = rules.plan_rollback(progress(), ROLLING_OUT, NEW, OLD, NOW).rollback
    back = service(deployment("ecs-svc/3", OLD), deployment("ecs-svc/2", NEW, status="ACTIVE"))
    watching = rules.updated_back(watching, back)

    for _ in range(TIMINGS.deployment_max_polls - 1):
        watching = rules.watch_rollback(watching, back, TIMINGS, NOW)
    with pytest.raises(RollbackIncomplete, match="may not be back on its previous revision"):
        rules.watch_rollback(watching, back, TIMINGS, NOW)


def test_a_revision_someone_else_deployed_during_the_rollback_needs_attention() -> None:
    watching = rules.plan_rollback(progress(), ROLLING_OUT, NEW, OLD, NOW).rollback
    watching = rules.updated_back(watching, service(deployment("ecs-svc/3", OLD)))
    third = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:3"

    with pytest.raises(RollbackIncomplete, match="someone else changed it"):
        rules.watch_rollback(watching, service(deployment("ecs-svc/4", third)), TIMINGS, NOW)


# -- the steps, against a service that answers as ECS does --------------------------------------


class Ecs:
    """One service's DescribeServices and UpdateService: each update starts a deployment."""

    def __init__(self, described: dict[str, Any]) -> None:
        self.described = described
        self.updates: list[str] = []

    def describe(self, cluster: str, name: str) -> dict[str, Any]:
        return self.described

    def update(self, cluster: str, name: str, task_definition: str) -> dict[str, Any]:
        self.updates.append(task_definition)
        new = deployment(f"ecs-svc/{len(self.updates) + 10}", task_definition)
        others = [{**d, "status": "ACTIVE"} for d in self.described["deployments"]]
        self.described = service(new, *others)
        return self.described


class Locks:
    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder

    def acquire_lock(self, key: str, owner: str, now: Any) -> None:
        if self.holder not in (None, owner):
            raise ServiceLocked(f"{key} is being deployed by {self.holder}")
        self.holder = owner


ROLLING = demo_service(method="rolling", approvers=[])


def rolling_state() -> Any:
    return rendered(state(ROLLING))


def test_start_rolls_out_once_and_a_retry_finds_its_deployment() -> None:
    """ECS UpdateService starts a deployment; a retried StartRollout starts no second one."""
    ecs = Ecs(service(deployment("ecs-svc/1", OLD, "COMPLETED", running=2)))
    locks = Locks()

    first = steps.start(rolling_state(), ecs, locks, NOW)
    again = steps.start(rolling_state(), ecs, locks, NOW)

    assert ecs.updates == [NEW]
    assert first.rollout is not None
    assert again.rollout is not None
    assert first.rollout.deployment_id == again.rollout.deployment_id == "ecs-svc/11"
    assert (first.rollout.task_definition, first.rollout.previous_task_definition) == (NEW, OLD)
    assert locks.holder == first.execution_name


def test_start_refuses_a_service_another_deployment_holds() -> None:
    ecs = Ecs(service(deployment("ecs-svc/1", OLD, "COMPLETED")))

    with pytest.raises(ServiceLocked):
        steps.start(rolling_state(), ecs, Locks("someone-else"), NOW)
    assert ecs.updates == []


def test_start_refuses_a_service_codedeploy_deploys() -> None:
    """ECS refuses a new task definition on a CODE_DEPLOY service: said before it is tried."""
    ecs = Ecs(service(deployment("ecs-svc/1", OLD, "COMPLETED"), controller="CODE_DEPLOY"))

    with pytest.raises(ConfigurationInvalid, match="CODE_DEPLOY deployment controller"):
        steps.start(rolling_state(), ecs, Locks(), NOW)
    assert ecs.updates == []


def test_a_recorded_failure_turns_the_look_into_a_rollback_and_its_watch() -> None:
    ecs = Ecs(service(deployment("ecs-svc/1", OLD, "COMPLETED", running=2)))
    started = steps.start(rolling_state(), ecs, Locks(), NOW)
    failed = started.model_copy(update={"error": {"Error": "RolloutTimedOut", "Cause": "slow"}})

    first = steps.look(failed, ecs, NOW)
    ecs.described = service(deployment("ecs-svc/12", OLD, "COMPLETED", running=2))
    second = steps.look(first, ecs, NOW)

    assert ecs.updates == [NEW, OLD]
    assert first.rollout is not None
    assert first.rollout.rollback is not None
    assert (first.rollout.rollback.by, first.rollout.rollback.finished) == ("bluegreen", False)
    assert second.rollout is not None
    assert second.rollout.rollback is not None
    assert second.rollout.rollback.finished
    assert second.rollout.rollback.deployment_id == "ecs-svc/12"
