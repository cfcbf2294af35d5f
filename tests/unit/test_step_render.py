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
