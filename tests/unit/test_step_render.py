"""The render step with moto-backed adapters."""

from __future__ import annotations

from typing import Any

import pytest
from bluegreen.adapters.ecs import EcsTaskDefinitions
from bluegreen.errors import ImageRefused, ResourceMissing
from bluegreen.steps.render import render

from tests.unit.builders import (
    ACCOUNT,
    COMMIT,
    DIGEST,
    PREVIOUS_IMAGE,
    REGION,
    Aws,
    create_ecs_service,
    demo_service,
    image,
    state,
)

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
    # Approvers are told the tag production runs: the earlier release's.
    assert after.render.previous_tag == "0123456"  # type: ignore[union-attr]


def test_render_refuses_a_floating_tag_before_registering_anything(ecs: Any) -> None:
    with pytest.raises(ImageRefused):
        render(state(image_ref=image(tag="latest")), EcsTaskDefinitions(ecs))

    assert len(revisions(ecs)) == 1


def test_render_with_an_unknown_container_registers_nothing(ecs: Any) -> None:
    with pytest.raises(ResourceMissing, match="'api'"):
        render(state(service=demo_service(container="api")), EcsTaskDefinitions(ecs))

    assert len(revisions(ecs)) == 1


def test_rendered_again_on_the_revision_another_release_left_says_so(ecs: Any) -> None:
    """Made before the turn, on web:1; by the turn the service runs web:3, which another
    release registered and deployed (its environment changed too): made again on web:3, the
    same image, what it changes and what runs before it told as they now are."""
    waiting = render(state(), EcsTaskDefinitions(ecs))
    live = ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]
    web, router = live["containerDefinitions"]
    other = ecs.register_task_definition(
        family="web",
        executionRoleArn=live["executionRoleArn"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {**web, "image": PREVIOUS_IMAGE.replace("0" * 64, "1" * 64), "environment": []},
            router,
        ],
        tags=[
            {"key": "bluegreen:execution", "value": "demo-web-1111111-other"},
            {"key": "bluegreen:image-tag", "value": "1111111"},
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="demo", service="web", taskDefinition=other)

    again = render(waiting, EcsTaskDefinitions(ecs))

    assert again.render is not None
    assert waiting.render is not None
    assert again.render.previous_task_definition == other
    assert again.render.task_definition.endswith(":task-definition/web:4")
    assert again.render.previous_tag == "1111111"
    assert again.render.previous_image == PREVIOUS_IMAGE.replace("0" * 64, "1" * 64)
    assert [c.path for c in again.render.changes] == ["containerDefinitions[web].image"]
    described = ecs.describe_task_definition(taskDefinition=again.render.task_definition)
    container = described["taskDefinition"]["containerDefinitions"][0]
    assert (container["image"], container["environment"]) == (waiting.image.pinned, [])
    assert again.render.rendered_again is not None
    assert again.render.rendered_again.model_dump() == {
        "first_task_definition": waiting.render.task_definition,
        "registered_by": "demo-web-1111111-other",
    }
