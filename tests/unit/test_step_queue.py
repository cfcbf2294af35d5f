"""Newest wins, step by step: Admit supersedes the older image where it waits, TakeTurn takes
the lock or waits (sending an abandoned lock to recovery), and a release hands the lock on.

The service's queue is the real StateTable on moto's DynamoDB; Step Functions' answers and
the janitor are the other side of their protocols, recorded here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.adapters.ecs import EcsTaskDefinitions
from bluegreen.adapters.store import StateTable
from bluegreen.domain import approval as rules
from bluegreen.domain.queue import queued_image
from bluegreen.domain.recovery import OwnerExecution
from bluegreen.errors import ApprovalExpired, ImageOutdated, Superseded
from bluegreen.models import DeploymentState, RollbackRequest, Turn, TurnTask
from bluegreen.steps import queue

from tests.unit.builders import (
    NOW,
    Aws,
    create_ecs_service,
    create_state_table,
    demo_service,
    digest,
    image,
    rendered,
    state,
)

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:bluegreen-deploy:{}"


def pushed(tag: str, minutes: int) -> DeploymentState:
    """A rendered deployment of an image ECR pushed ``minutes`` after NOW."""
    ref = image(tag=tag, image_digest=digest(tag)).model_copy(
        update={"pushed_at": NOW + timedelta(minutes=minutes)}
    )
    return rendered(state(image_ref=ref))


@dataclass
class StepFunctions:
    """Task tokens answered, as SendTaskSuccess/SendTaskFailure receive them."""

    succeeded: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)  # tokens of executions no longer waiting

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        if token in self.closed:
            raise ApprovalExpired("TaskTimedOut")
        self.succeeded[token] = output

    def fail(self, token: str, error: str, cause: str) -> None:
        if token in self.closed:
            raise ApprovalExpired("TaskTimedOut")
        self.failed[token] = (error, cause)


@dataclass
class Executions:
    statuses: dict[str, str] = field(default_factory=dict)

    def describe(self, name: str) -> OwnerExecution | None:
        status = self.statuses.get(name)
        return None if status is None else OwnerExecution(name, status, None, None)


@dataclass
class Janitor:
    requested: list[str] = field(default_factory=list)

    def request(self, lock_key: str) -> None:
        self.requested.append(lock_key)


@dataclass
class World:
    table: StateTable
    ecs: EcsTaskDefinitions
    sfn: StepFunctions = field(default_factory=StepFunctions)
    executions: Executions = field(default_factory=Executions)
    janitor: Janitor = field(default_factory=Janitor)

    def admit(self, deployment: DeploymentState) -> DeploymentState:
        return queue.admit(deployment, self.table, self.table, self.sfn, NOW)

    def take_turn(self, deployment: DeploymentState, token: str) -> Any:
        task = TurnTask(
            state=deployment,
            task_token=token,
            execution_arn=EXECUTION_ARN.format(deployment.execution_name),
        )
        return queue.take_turn(
            task, self.table, self.sfn, self.executions, self.janitor, lambda: self.ecs, NOW
        )

    def release(self, deployment: DeploymentState, deployed: bool = True) -> None:
        key = deployment.service.lock_key
        queue.release(key, deployment.execution_name, self.table, self.sfn, NOW, deployed)


@pytest.fixture
def world(aws: Aws) -> World:
    """The queue, and the service running web:1 (what every deployment here is rendered on)."""
    ddb = aws.client("dynamodb")
    create_ecs_service(aws.client("ecs"), demo_service())
    return World(StateTable(ddb, create_state_table(ddb)), EcsTaskDefinitions(aws.client("ecs")))


def test_a_newer_image_closes_the_older_ones_pending_approval_and_fails_its_wait(
    world: World,
) -> None:
    older, newer = pushed("1a1a1a1", 1), pushed("2b2b2b2", 2)
    world.admit(older)
    record = rules.record_for(older, "appr-old", "token-old-approval", NOW)
    world.table.put_approval(record)
    world.table.attach_approval(older.service.lock_key, older.execution_name, "appr-old")

    world.admit(newer)

    label = queued_image(newer).label
    assert world.sfn.failed == {
        "token-old-approval": ("Superseded", f"superseded by {label}, pushed later")
    }
    closed = world.table.get_approval("appr-old")
    assert (closed.status, closed.decided_by) == ("superseded", label)


def test_a_newer_image_ends_the_wait_of_an_older_one_queued_for_its_turn(world: World) -> None:
    first, second, third = pushed("1a1a1a1", 1), pushed("2b2b2b2", 2), pushed("3c3c3c3", 3)
    world.admit(first)
    world.take_turn(first, "token-1")
    world.admit(second)
    world.executions.statuses[first.execution_name] = "RUNNING"
    assert world.take_turn(second, "token-2").behind is not None

    world.admit(third)

    assert world.sfn.failed["token-2"][0] == "Superseded"
    with pytest.raises(Superseded):
        world.take_turn(second, "token-2-again")  # a late retry finds out too


def test_an_image_older_than_the_one_deployed_is_refused_at_admission(world: World) -> None:
    newer, older = pushed("2b2b2b2", 2), pushed("1a1a1a1", 1)
    world.admit(newer)
    world.take_turn(newer, "token-new")
    world.release(newer, deployed=True)

    with pytest.raises(ImageOutdated):
        world.admit(older)


def rolled_back_to(deployment: DeploymentState) -> DeploymentState:
    """An operator's rollback to ``deployment``'s image (named as the CLI names it)."""
    return deployment.model_copy(
        update={
            "execution_name": f"{deployment.execution_name}-rollback1",
            "source": "rollback",
            "rollback_request": RollbackRequest(requested_by="arn:aws:iam::123456789012:user/ops"),
        }
    )


def test_an_operators_rollback_to_an_older_image_is_admitted_and_ends_the_newer_wait(
    world: World,
) -> None:
    first, second, third = pushed("1a1a1a1", 1), pushed("2b2b2b2", 2), pushed("3c3c3c3", 3)
    for deployment in (first, second):
        world.admit(deployment)
        world.take_turn(deployment, f"token-{deployment.image.tag}")
        world.release(deployment, deployed=True)
    world.admit(third)
    record = rules.record_for(third, "appr-3", "token-3-approval", NOW)
    world.table.put_approval(record)
    world.table.attach_approval(third.service.lock_key, third.execution_name, "appr-3")

    back = world.admit(rolled_back_to(first))

    label = queued_image(first).label
    assert world.sfn.failed == {
        "token-3-approval": ("Superseded", f"superseded by a rollback to {label}")
    }
    assert world.table.queue(back.service.lock_key)["waiting"] == back.execution_name
    with pytest.raises(ImageOutdated):
        world.admit(first.model_copy(update={"execution_name": "by-a-push"}))  # not a rollback


def test_a_free_lock_is_taken_at_once_and_the_task_answered(world: World) -> None:
    deployment = pushed("1a1a1a1", 1)
    world.admit(deployment)

    world.take_turn(deployment, "token-1")

    assert world.sfn.succeeded["token-1"]["acquired"] is True
    assert world.table.lock(deployment.service.lock_key)["owner"] == deployment.execution_name  # type: ignore[index]
    assert world.janitor.requested == []


def test_waiting_behind_a_running_owner_asks_no_recovery(world: World) -> None:
    first, second = pushed("1a1a1a1", 1), pushed("2b2b2b2", 2)
    world.admit(first)
    world.take_turn(first, "token-1")
    world.admit(second)
    world.executions.statuses[first.execution_name] = "RUNNING"

    world.take_turn(second, "token-2")

    assert "token-2" not in world.sfn.succeeded
    assert world.janitor.requested == []


@pytest.mark.parametrize("status", ["ABORTED", None], ids=["ended", "unknown"])
def test_waiting_behind_an_owner_that_ended_sends_the_lock_to_recovery(
    world: World, status: str | None
) -> None:
    first, second = pushed("1a1a1a1", 1), pushed("2b2b2b2", 2)
    world.admit(first)
    world.take_turn(first, "token-1")
    world.admit(second)
    if status:
        world.executions.statuses[first.execution_name] = status

    world.take_turn(second, "token-2")

    assert world.janitor.requested == [first.service.lock_key]


def test_a_release_hands_the_lock_to_the_image_waiting_and_wakes_it(world: World) -> None:
    first, second = pushed("1a1a1a1", 1), pushed("2b2b2b2", 2)
    world.admit(first)
    world.take_turn(first, "token-1")
    world.admit(second)
    world.executions.statuses[first.execution_name] = "RUNNING"
    world.take_turn(second, "token-2")

    world.release(first)

    assert world.sfn.succeeded["token-2"] == {
        "acquired": True,
        "behind": first.execution_name,
        "at": NOW.isoformat().replace("+00:00", "Z"),
    }
    assert world.table.lock(first.service.lock_key)["owner"] == second.execution_name  # type: ignore[index]


def test_a_release_to_an_image_that_stopped_waiting_frees_the_lock(world: World) -> None:
    first, second = pushed("1a1a1a1", 1), pushed("2b2b2b2", 2)
    world.admit(first)
    world.take_turn(first, "token-1")
    world.admit(second)
    world.executions.statuses[first.execution_name] = "RUNNING"
    world.take_turn(second, "token-2")
    world.sfn.closed.add("token-2")  # its execution was stopped while it waited

    world.release(first)

    assert world.table.lock(first.service.lock_key) is None


def test_a_turn_taken_on_the_revision_it_was_rendered_on_needs_no_new_render(
    world: World,
) -> None:
    deployment = pushed("1a1a1a1", 1)
    world.admit(deployment)

    world.take_turn(deployment, "token-1")

    assert world.sfn.succeeded["token-1"]["stale"] is False


def test_a_turn_handed_over_after_another_release_changed_the_service_asks_to_render_again(
    world: World, aws: Aws
) -> None:
    """The release that hands the lock over does not look at the service; asked again, with
    the lock already its own, TakeTurn does: the render was made on web:1, web:2 runs."""
    first, second = pushed("1a1a1a1", 1), pushed("2b2b2b2", 2)
    world.admit(first)
    world.take_turn(first, "token-1")
    world.admit(second)
    world.executions.statuses[first.execution_name] = "RUNNING"
    world.take_turn(second, "token-2")
    ecs = aws.client("ecs")
    live = ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]
    deployed = ecs.register_task_definition(
        family="web",
        containerDefinitions=live["containerDefinitions"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="demo", service="web", taskDefinition=deployed)
    world.release(first)
    handed = world.sfn.succeeded["token-2"]
    assert "stale" not in handed
    woken = second.model_copy(update={"turn": Turn.model_validate(handed)})

    world.take_turn(woken, "token-2-look")

    assert world.sfn.succeeded["token-2-look"]["stale"] is True
    assert world.sfn.succeeded["token-2-look"]["behind"] == first.execution_name
    assert world.table.lock(second.service.lock_key)["owner"] == second.execution_name  # type: ignore[index]
