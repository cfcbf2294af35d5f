"""Trigger and render steps with moto-backed adapters."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.adapters.ecs import EcsTaskDefinitions
from bluegreen.adapters.stepfunctions import Executions
from bluegreen.errors import ImageRefused, ResourceMissing
from bluegreen.models import DeploymentState
from bluegreen.steps.render import render
from bluegreen.steps.trigger import on_push, start

from tests.unit.builders import (
    ACCOUNT,
    COMMIT,
    DIGEST,
    NOW,
    PREVIOUS_IMAGE,
    REGION,
    Aws,
    catalog,
    create_ecs_service,
    create_pass_machine,
    demo_service,
    digest,
    image,
    push,
    state,
)

CATALOG = catalog()


@pytest.fixture
def machine(aws: Aws) -> str:
    return create_pass_machine(aws.client("stepfunctions"))


@pytest.fixture
def executions(aws: Aws, machine: str) -> Executions:
    return Executions(aws.client("stepfunctions"), machine)


def started(aws: Aws, machine: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = aws.client("stepfunctions").list_executions(
        stateMachineArn=machine
    )["executions"]
    return listed


# --- trigger ------------------------------------------------------------------------------


def test_a_push_of_a_commit_starts_one_execution_with_the_pinned_image(
    aws: Aws, machine: str, executions: Executions
) -> None:
    result = on_push(push(tag=COMMIT), ACCOUNT, REGION, CATALOG, executions, NOW)

    assert result.outcome == "started"
    (execution,) = started(aws, machine)
    assert execution["name"] == result.execution_name
    assert execution["executionArn"] == result.execution_arn
    document = aws.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"]
    )["input"]
    deployment = DeploymentState.model_validate(json.loads(document))
    assert deployment.service == demo_service()
    assert deployment.image.pinned.endswith(f"/demo-web@{DIGEST}")
    assert deployment.image.tag == COMMIT
    assert deployment.source == "ecr-push"
    assert deployment.requested_at == NOW
    assert deployment.render is None  # nothing is decided before the state machine runs


def test_the_same_event_twice_starts_nothing_new(
    aws: Aws, machine: str, executions: Executions
) -> None:
    first = on_push(push(), ACCOUNT, REGION, CATALOG, executions, NOW)
    again = on_push(push(), ACCOUNT, REGION, CATALOG, executions, NOW + timedelta(seconds=3))

    assert again.outcome == "duplicate"
    assert again.execution_name == first.execution_name
    assert again.execution_arn == first.execution_arn
    assert len(started(aws, machine)) == 1


def test_another_digest_is_another_deployment(
    aws: Aws, machine: str, executions: Executions
) -> None:
    first = on_push(push(), ACCOUNT, REGION, CATALOG, executions, NOW)
    rebuilt = on_push(
        push(image_digest=digest("rebuilt")), ACCOUNT, REGION, CATALOG, executions, NOW
    )

    assert rebuilt.outcome == "started"
    assert rebuilt.execution_name != first.execution_name
    assert len(started(aws, machine)) == 2


@pytest.mark.parametrize(("tag", "why"), [("latest", "mutable"), ("feature-x", "does not match")])
def test_a_refused_tag_starts_nothing(
    aws: Aws, machine: str, executions: Executions, tag: str, why: str
) -> None:
    result = on_push(push(tag=tag), ACCOUNT, REGION, CATALOG, executions, NOW)

    assert result.outcome == "refused"
    assert why in result.reason
    assert result.execution_name is None
    assert started(aws, machine) == []


def test_a_push_without_digest_starts_nothing(
    aws: Aws, machine: str, executions: Executions
) -> None:
    result = on_push(push(image_digest=None), ACCOUNT, REGION, CATALOG, executions, NOW)

    assert result.outcome == "refused"
    assert started(aws, machine) == []


def test_an_unknown_repository_is_ignored(aws: Aws, machine: str, executions: Executions) -> None:
    result = on_push(push(repository="billing"), ACCOUNT, REGION, CATALOG, executions, NOW)

    assert result.outcome == "ignored"
    assert "'billing' is not in the service configuration" in result.reason
    assert started(aws, machine) == []


@pytest.mark.parametrize(("action", "result"), [("DELETE", "SUCCESS"), ("PUSH", "FAILURE")])
def test_anything_but_a_successful_push_is_ignored(
    aws: Aws, machine: str, executions: Executions, action: str, result: str
) -> None:
    outcome = on_push(push(action=action, result=result), ACCOUNT, REGION, CATALOG, executions, NOW)

    assert outcome.outcome == "ignored"
    assert started(aws, machine) == []


def test_a_deployment_started_by_hand_is_marked_so(
    aws: Aws, machine: str, executions: Executions
) -> None:
    result = start(demo_service(), image(), "cli", executions, NOW)

    (execution,) = started(aws, machine)
    document = aws.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"]
    )["input"]
    assert json.loads(document)["source"] == "cli"
    # and a push of the same image afterwards is the same deployment
    assert on_push(push(), ACCOUNT, REGION, CATALOG, executions, NOW).outcome == "duplicate"
    assert result.outcome == "started"


# --- render -------------------------------------------------------------------------------


@pytest.fixture
def ecs(aws: Aws) -> Any:
    client = aws.client("ecs")
    create_ecs_service(client, demo_service())
    return client


def revisions(ecs: Any) -> list[str]:
    listed: list[str] = ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    return listed


def test_render_registers_a_revision_with_the_image_pinned_by_digest(ecs: Any) -> None:
    before = state()

    after = render(before, EcsTaskDefinitions(ecs))

    assert after.render is not None
    assert after.render.previous_task_definition.endswith(":task-definition/web:1")
    assert after.render.task_definition.endswith(":task-definition/web:2")
    assert after.render.previous_image == PREVIOUS_IMAGE
    assert [(c.before, c.after) for c in after.render.changes] == [
        (PREVIOUS_IMAGE, before.image.pinned)
    ]
    described = ecs.describe_task_definition(
        taskDefinition=after.render.task_definition, include=["TAGS"]
    )
    web, sidecar = described["taskDefinition"]["containerDefinitions"]
    assert web["image"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/demo-web@{DIGEST}"
    assert web["environment"] == [{"name": "MODE", "value": "production"}]
    assert sidecar["image"] == "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0"
    tags = {t["key"]: t["value"] for t in described["tags"]}
    assert tags == {
        "team": "web",
        "bluegreen:execution": before.execution_name,
        "bluegreen:image-tag": COMMIT,
    }


def test_render_leaves_the_ecs_service_untouched(ecs: Any) -> None:
    service_before = ecs.describe_services(cluster="demo", services=["web"])["services"][0]

    render(state(), EcsTaskDefinitions(ecs))

    service_after = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service_after["taskDefinition"] == service_before["taskDefinition"]
    assert service_after["taskDefinition"].endswith(":task-definition/web:1")
    assert service_after["deployments"] == service_before["deployments"]


def test_marks_of_an_earlier_deployment_are_replaced_not_accumulated(aws: Aws) -> None:
    ecs = aws.client("ecs")
    earlier = [
        {"key": "team", "value": "web"},
        {"key": "bluegreen:execution", "value": "demo-web-0123456-earlier"},
        {"key": "bluegreen:image-tag", "value": "0123456"},
    ]
    create_ecs_service(ecs, demo_service(), tags=earlier)

    after = render(state(), EcsTaskDefinitions(ecs))

    described = ecs.describe_task_definition(
        taskDefinition=after.render.task_definition,  # type: ignore[union-attr]
        include=["TAGS"],
    )
    assert sorted((t["key"], t["value"]) for t in described["tags"]) == [
        ("bluegreen:execution", after.execution_name),
        ("bluegreen:image-tag", COMMIT),
        ("team", "web"),
    ]


def test_render_refuses_a_floating_tag_before_registering_anything(ecs: Any) -> None:
    with pytest.raises(ImageRefused):
        render(state(image_ref=image(tag="latest")), EcsTaskDefinitions(ecs))

    assert len(revisions(ecs)) == 1


def test_render_with_an_unknown_container_registers_nothing(ecs: Any) -> None:
    with pytest.raises(ResourceMissing, match="'api'"):
        render(state(service=demo_service(container="api")), EcsTaskDefinitions(ecs))

    assert len(revisions(ecs)) == 1
