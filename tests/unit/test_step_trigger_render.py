"""Trigger and render steps with moto-backed adapters."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.adapters.ecr import EcrImages
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
    push_image,
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


@pytest.fixture
def registry(aws: Aws) -> EcrImages:
    return EcrImages(aws.client("ecr"))


@pytest.fixture
def pushed(aws: Aws) -> str:
    """The digest of the image pushed as ``demo-web:COMMIT``."""
    return push_image(aws.client("ecr"))


def test_a_push_of_a_commit_starts_one_execution_with_the_pinned_image(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    result = on_push(push(image_digest=pushed), ACCOUNT, REGION, CATALOG, registry, executions, NOW)

    assert result.outcome == "started"
    (execution,) = started(aws, machine)
    assert execution["name"] == result.execution_name
    assert execution["executionArn"] == result.execution_arn
    document = aws.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"]
    )["input"]
    deployment = DeploymentState.model_validate(json.loads(document))
    assert deployment.service == demo_service()
    assert deployment.image.pinned.endswith(f"/demo-web@{pushed}")
    assert deployment.image.tag == COMMIT
    assert deployment.source == "ecr-push"
    assert deployment.requested_at == NOW
    assert deployment.render is None  # nothing is decided before the state machine runs


def test_the_push_time_is_ecrs_not_the_events(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    (detail,) = aws.client("ecr").describe_images(
        repositoryName="demo-web", imageIds=[{"imageDigest": pushed}]
    )["imageDetails"]

    result = on_push(push(image_digest=pushed), ACCOUNT, REGION, CATALOG, registry, executions, NOW)

    document = aws.client("stepfunctions").describe_execution(executionArn=result.execution_arn)
    deployment = DeploymentState.model_validate_json(document["input"])
    assert deployment.image.pushed_at == detail["imagePushedAt"]


def test_the_same_event_twice_starts_nothing_new(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    event = push(image_digest=pushed)
    first = on_push(event, ACCOUNT, REGION, CATALOG, registry, executions, NOW)
    again = on_push(
        event, ACCOUNT, REGION, CATALOG, registry, executions, NOW + timedelta(seconds=3)
    )

    assert again.outcome == "duplicate"
    assert again.execution_name == first.execution_name
    assert again.execution_arn == first.execution_arn
    assert len(started(aws, machine)) == 1


def test_the_same_digest_under_a_second_tag_is_the_same_deployment(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    """ECR sends one event per tag: the image pushed as a commit and a version deploys once."""
    assert push_image(aws.client("ecr"), tag="v1.4.0") == pushed

    first = on_push(
        push(tag=COMMIT, image_digest=pushed), ACCOUNT, REGION, CATALOG, registry, executions, NOW
    )
    second = on_push(
        push(tag="v1.4.0", image_digest=pushed),
        ACCOUNT,
        REGION,
        CATALOG,
        registry,
        executions,
        NOW + timedelta(seconds=1),
    )

    assert first.outcome == "started"
    assert second.outcome == "duplicate"
    assert second.execution_name == first.execution_name
    assert second.execution_arn == first.execution_arn
    assert first.execution_name in second.reason
    assert len(started(aws, machine)) == 1


def test_another_digest_is_another_deployment(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    rebuilt = push_image(aws.client("ecr"), tag="0a1b2c3d", seed="rebuilt")
    first = on_push(push(image_digest=pushed), ACCOUNT, REGION, CATALOG, registry, executions, NOW)
    second = on_push(
        push(tag="0a1b2c3d", image_digest=rebuilt),
        ACCOUNT,
        REGION,
        CATALOG,
        registry,
        executions,
        NOW,
    )

    assert second.outcome == "started"
    assert second.execution_name != first.execution_name
    assert len(started(aws, machine)) == 2


def test_a_digest_the_repository_does_not_hold_is_refused_and_starts_nothing(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    """DescribeImages answers ImageNotFoundException for a digest the repository lacks."""
    forged = digest("never pushed")

    result = on_push(push(image_digest=forged), ACCOUNT, REGION, CATALOG, registry, executions, NOW)

    assert result.outcome == "refused"
    assert result.reason == (
        f"digest {forged} is not an image of repository 'demo-web' (registry {ACCOUNT})"
    )
    assert result.execution_name is None
    assert started(aws, machine) == []


def test_another_repositorys_digest_is_refused(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    """A digest is an image of the repository it was pushed to, not of any other."""
    elsewhere = push_image(aws.client("ecr"), repository="billing", seed="billing build 7")

    result = on_push(
        push(image_digest=elsewhere), ACCOUNT, REGION, CATALOG, registry, executions, NOW
    )

    assert result.outcome == "refused"
    assert f"digest {elsewhere} is not an image of repository 'demo-web'" in result.reason
    assert started(aws, machine) == []


def test_a_tag_the_digest_does_not_carry_is_refused(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    result = on_push(
        push(tag="v9.9.9", image_digest=pushed), ACCOUNT, REGION, CATALOG, registry, executions, NOW
    )

    assert result.outcome == "refused"
    assert result.reason == (
        f"digest {pushed} does not carry tag 'v9.9.9' in repository 'demo-web' "
        f"(registry {ACCOUNT}) (its tags: {COMMIT})"
    )
    assert started(aws, machine) == []


@pytest.mark.parametrize(("tag", "why"), [("latest", "mutable"), ("feature-x", "does not match")])
def test_a_refused_tag_starts_nothing(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, tag: str, why: str
) -> None:
    result = on_push(push(tag=tag), ACCOUNT, REGION, CATALOG, registry, executions, NOW)

    assert result.outcome == "refused"
    assert why in result.reason
    assert result.execution_name is None
    assert started(aws, machine) == []


def test_a_push_without_digest_starts_nothing(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions
) -> None:
    result = on_push(push(image_digest=None), ACCOUNT, REGION, CATALOG, registry, executions, NOW)

    assert result.outcome == "refused"
    assert started(aws, machine) == []


def test_an_unknown_repository_is_ignored(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions
) -> None:
    result = on_push(
        push(repository="billing"), ACCOUNT, REGION, CATALOG, registry, executions, NOW
    )

    assert result.outcome == "ignored"
    assert "'billing' is not in the service configuration" in result.reason
    assert started(aws, machine) == []


@pytest.mark.parametrize(("action", "result"), [("DELETE", "SUCCESS"), ("PUSH", "FAILURE")])
def test_anything_but_a_successful_push_is_ignored(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, action: str, result: str
) -> None:
    outcome = on_push(
        push(action=action, result=result), ACCOUNT, REGION, CATALOG, registry, executions, NOW
    )

    assert outcome.outcome == "ignored"
    assert started(aws, machine) == []


def test_a_deployment_started_by_hand_is_marked_so(
    aws: Aws, machine: str, registry: EcrImages, executions: Executions, pushed: str
) -> None:
    result = start(demo_service(), image(image_digest=pushed), "cli", executions, NOW)

    (execution,) = started(aws, machine)
    document = aws.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"]
    )["input"]
    assert json.loads(document)["source"] == "cli"
    # and a push of the same image afterwards is the same deployment
    again = on_push(push(image_digest=pushed), ACCOUNT, REGION, CATALOG, registry, executions, NOW)
    assert again.outcome == "duplicate"
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
