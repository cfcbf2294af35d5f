"""Render from a task definition template, on moto's ECS: the pushed repository's containers
take the pushed digest, every other keeps the digest the environment runs, and approvers
see what the revision changes from the one running."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from bluegreen.adapters.ecs import EcsTaskDefinitions
from bluegreen.domain import taskdef
from bluegreen.errors import ImageNotRunning, ImageRefused
from bluegreen.models import DeploymentState, ServiceConfig
from bluegreen.steps.render import planned, render
from bluegreen_cli.taskdef_diff import deployment_diff

from tests.unit.builders import (
    ACCOUNT,
    COMMIT,
    NOW,
    REGION,
    Aws,
    demo_service,
    digest,
    image,
    state,
)

REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
WEB_RUNNING = f"{REGISTRY}/demo-web@{digest('web running')}"
SIDECAR_RUNNING = f"{REGISTRY}/demo-sidecar@{digest('sidecar running')}"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"

TEMPLATE: dict[str, Any] = {
    "family": "web",
    "executionRoleArn": EXECUTION_ROLE,
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {
            "name": "web",
            "image": "<IMAGE1_NAME>",
            "portMappings": [{"containerPort": 8080}],
            "environment": [
                {"name": "MODE", "value": "production"},
                {"name": "LOG_LEVEL", "value": "info"},
            ],
        },
        {"name": "sidecar", "image": "<IMAGE2_NAME>", "essential": False},
    ],
}
IMAGES = {"IMAGE1_NAME": "demo-web", "IMAGE2_NAME": "demo-sidecar"}


def templated(**changes: Any) -> ServiceConfig:
    return demo_service(**{"task_definition": TEMPLATE, "images": IMAGES, **changes})


def run_service(ecs: Any, containers: list[dict[str, Any]]) -> str:
    """The demo service, running a revision of ``containers`` (registered as ECS would have)."""
    ecs.create_cluster(clusterName="demo")
    arn: str = ecs.register_task_definition(
        family="web",
        executionRoleArn=EXECUTION_ROLE,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=containers,
        tags=[{"key": "team", "value": "web"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="demo",
        serviceName="web",
        taskDefinition=arn,
        desiredCount=2,
        deploymentController={"type": "CODE_DEPLOY"},
    )
    return arn


WEB = {
    "name": "web",
    "image": WEB_RUNNING,
    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
    "environment": [{"name": "MODE", "value": "production"}],
}
SIDECAR = {"name": "sidecar", "image": SIDECAR_RUNNING, "essential": False}


@pytest.fixture
def ecs(aws: Aws) -> Any:
    client = aws.client("ecs")
    run_service(client, [WEB, SIDECAR])
    return client


def registered(ecs: Any, arn: str) -> tuple[dict[str, Any], dict[str, str]]:
    described = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    containers = {c["name"]: c for c in described["taskDefinition"]["containerDefinitions"]}
    return containers, {t["key"]: t["value"] for t in described["tags"]}


def revisions(ecs: Any) -> list[str]:
    listed: list[str] = ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    return listed


def test_a_push_of_the_primary_repository_pins_it_and_keeps_the_sidecar_running(ecs: Any) -> None:
    before = state(service=templated())

    after = render(before, EcsTaskDefinitions(ecs))

    assert after.render is not None
    containers, tags = registered(ecs, after.render.task_definition)
    assert containers["web"]["image"] == before.image.pinned
    assert containers["sidecar"]["image"] == SIDECAR_RUNNING
    assert containers["web"]["environment"] == TEMPLATE["containerDefinitions"][0]["environment"]
    # The template has no tags: the revision's own stay, ours are renewed.
    assert tags == {
        "team": "web",
        "bluegreen:execution": before.execution_name,
        "bluegreen:image-tag": COMMIT,
    }
    assert after.render.previous_image == WEB_RUNNING
    # What approvers see: the image first, then what else the template changes.
    assert [(c.path, c.before, c.after) for c in after.render.changes] == [
        ("containerDefinitions[web].image", WEB_RUNNING, before.image.pinned),
        ("containerDefinitions[web].environment[LOG_LEVEL].value", None, "info"),
    ]


def test_a_push_of_the_sidecars_repository_changes_only_the_sidecar(ecs: Any) -> None:
    pushed = image(image_digest=digest("sidecar build 2"), repository="demo-sidecar")
    before = state(service=templated(), image_ref=pushed)

    after = render(before, EcsTaskDefinitions(ecs))

    assert after.render is not None
    containers, _ = registered(ecs, after.render.task_definition)
    assert containers["web"]["image"] == WEB_RUNNING
    assert containers["sidecar"]["image"] == f"{REGISTRY}/demo-sidecar@{digest('sidecar build 2')}"
    assert after.render.previous_image == SIDECAR_RUNNING
    assert after.render.changes[0].path == "containerDefinitions[sidecar].image"
    assert (after.render.changes[0].before, after.render.changes[0].after) == (
        SIDECAR_RUNNING,
        pushed.pinned,
    )
    assert "containerDefinitions[web].image" not in [c.path for c in after.render.changes]


def test_the_same_template_again_changes_only_the_image(ecs: Any) -> None:
    """ECS fills in what a revision leaves out (essential, cpu 0, empty lists): the revision
    it describes back differs from the template by nothing an approver should read."""
    first = render(state(service=templated()), EcsTaskDefinitions(ecs))
    assert first.render is not None
    running = ecs.describe_task_definition(
        taskDefinition=first.render.task_definition, include=["TAGS"]
    )
    described = {**running["taskDefinition"], "tags": running["tags"]}
    again = state(service=templated(), image_ref=image(image_digest=digest("web build 3")))

    _, changes = planned(again, described)

    assert [c.path for c in changes] == ["containerDefinitions[web].image"]


def test_a_placeholder_whose_repository_runs_nowhere_there_registers_nothing(aws: Aws) -> None:
    ecs = aws.client("ecs")
    run_service(ecs, [WEB])

    with pytest.raises(ImageNotRunning) as raised:
        render(state(service=templated()), EcsTaskDefinitions(ecs))

    assert str(raised.value).startswith(
        "<IMAGE2_NAME> (demo-sidecar): the local environment runs no image of "
        f"{REGISTRY}/demo-sidecar by digest "
        f"(its task definition web:1 runs web: {WEB_RUNNING})"
    )
    assert len(revisions(ecs)) == 1


def test_a_sidecar_running_by_tag_has_no_digest_to_keep(aws: Aws) -> None:
    ecs = aws.client("ecs")
    run_service(ecs, [WEB, {**SIDECAR, "image": f"{REGISTRY}/demo-sidecar:1.4"}])

    with pytest.raises(ImageNotRunning, match=r"^<IMAGE2_NAME> \(demo-sidecar\): "):
        render(state(service=templated()), EcsTaskDefinitions(ecs))

    assert len(revisions(ecs)) == 1


def test_a_tag_beside_the_running_digest_is_dropped_the_digest_kept(aws: Aws) -> None:
    ecs = aws.client("ecs")
    tagged = f"{REGISTRY}/demo-sidecar:1.4@{digest('sidecar running')}"
    run_service(ecs, [WEB, {**SIDECAR, "image": tagged}])

    after = render(state(service=templated()), EcsTaskDefinitions(ecs))

    assert after.render is not None
    containers, _ = registered(ecs, after.render.task_definition)
    assert containers["sidecar"]["image"] == SIDECAR_RUNNING


def test_an_image_of_a_repository_the_service_does_not_use_is_refused(ecs: Any) -> None:
    other = image(repository="demo-api")

    with pytest.raises(ImageRefused, match="repository 'demo-api' does not deploy 'demo-web'"):
        render(state(service=templated(), image_ref=other), EcsTaskDefinitions(ecs))

    assert len(revisions(ecs)) == 1


def test_the_template_is_left_as_configured(ecs: Any) -> None:
    service = templated()
    kept = copy.deepcopy(service.task_definition)

    render(state(service=service), EcsTaskDefinitions(ecs))

    assert service.task_definition == kept


def test_a_template_with_tags_registers_its_own(ecs: Any) -> None:
    own = {**TEMPLATE, "tags": [{"key": "owner", "value": "platform"}]}
    before = state(service=templated(task_definition=own))

    after = render(before, EcsTaskDefinitions(ecs))

    assert after.render is not None
    _, tags = registered(ecs, after.render.task_definition)
    assert tags == {
        "owner": "platform",
        "bluegreen:execution": before.execution_name,
        "bluegreen:image-tag": COMMIT,
    }
    paths = {c.path: (c.before, c.after) for c in after.render.changes}
    assert paths["tags[team]"] == ("web", None)
    assert paths["tags[owner]"] == (None, "platform")


def test_a_live_revision_renders_as_before_one_image_change() -> None:
    described = {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
        "family": "web",
        "containerDefinitions": [{**WEB, "cpu": 0, "essential": True, "mountPoints": []}],
        "tags": [{"key": "bluegreen:execution", "value": "earlier"}],
    }
    before = state()

    definition, changes = planned(before, described)

    assert definition["containerDefinitions"][0]["image"] == before.image.pinned
    assert changes == taskdef.changes(described, definition)
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("containerDefinitions[web].image", WEB_RUNNING, before.image.pinned)
    ]


def test_bluegreen_diff_lists_what_render_tells_approvers_and_our_marks(ecs: Any) -> None:
    service = templated()
    current = EcsTaskDefinitions(ecs).current("demo", "web")
    rendered_state = render(state(service=service), EcsTaskDefinitions(ecs))
    assert rendered_state.render is not None

    found = deployment_diff(service, image(), current, NOW)

    told = {(c.path, c.before, c.after) for c in rendered_state.render.changes}
    listed = {(c.path, c.before, c.after) for c in found.changes}
    assert {c for c in listed if not c[0].startswith("tags[bluegreen:")} == told
    assert {c[0] for c in listed - told} == {
        "tags[bluegreen:execution]",
        "tags[bluegreen:image-tag]",
    }


def test_a_container_the_template_adds_comes_in_with_its_repositorys_first_push(
    aws: Aws,
) -> None:
    ecs = aws.client("ecs")
    run_service(ecs, [WEB])
    pushed = image(image_digest=digest("sidecar build 1"), repository="demo-sidecar")

    after = render(state(service=templated(), image_ref=pushed), EcsTaskDefinitions(ecs))

    assert after.render is not None
    containers, _ = registered(ecs, after.render.task_definition)
    assert containers["web"]["image"] == WEB_RUNNING
    assert containers["sidecar"]["image"] == pushed.pinned
    assert after.render.previous_image is None  # nothing of it ran before
    assert ("containerDefinitions[sidecar].image", None, pushed.pinned) in [
        (c.path, c.before, c.after) for c in after.render.changes
    ]
    # The next step reads the document back as Step Functions hands it over (nulls left out).
    assert DeploymentState.model_validate(after.dump()) == after


def test_rendered_again_after_a_web_release_keeps_the_new_web_digest(ecs: Any) -> None:
    """A sidecar push rendered while a web release was under way, made again on the revision
    that release left: web is not put back to the digest it ran before."""
    pushed = image(image_digest=digest("sidecar build 2"), repository="demo-sidecar")
    waiting = render(state(service=templated(), image_ref=pushed), EcsTaskDefinitions(ecs))
    assert waiting.render is not None
    first = waiting.render.task_definition
    assert registered(ecs, first)[0]["web"]["image"] == WEB_RUNNING  # what it would put back
    web_release = state(service=templated(), image_ref=image(image_digest=digest("web build 2")))
    released = render(web_release, EcsTaskDefinitions(ecs))
    assert released.render is not None
    ecs.update_service(
        cluster="demo", service="web", taskDefinition=released.render.task_definition
    )

    again = render(waiting, EcsTaskDefinitions(ecs))

    assert again.render is not None
    containers, _ = registered(ecs, again.render.task_definition)
    assert containers["web"]["image"] == web_release.image.pinned
    assert containers["sidecar"]["image"] == pushed.pinned
    assert again.render.previous_task_definition == released.render.task_definition
    assert [(c.path, c.before, c.after) for c in again.render.changes] == [
        ("containerDefinitions[sidecar].image", SIDECAR_RUNNING, pushed.pinned)
    ]
    assert again.render.rendered_again is not None
    assert again.render.rendered_again.first_task_definition == first
    assert again.render.rendered_again.registered_by == web_release.execution_name
    assert again.image == waiting.image  # the approved image, unchanged
