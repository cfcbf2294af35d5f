"""A service rendered from a task definition template with two containers from two
repositories, on the real state machine: a push of one repository deploys it, and the
other container keeps the digest it runs."""

from __future__ import annotations

import json
from typing import Any

from bluegreen.models import ServiceConfig
from bluegreen_cli.local.server import LocalStack
from conftest import Run
from test_deploy_paths import production_image, rendered_task_definition

IMAGES = {"IMAGE1_NAME": "demo-web", "IMAGE2_NAME": "demo-sidecar"}


def template_of(live: dict[str, Any]) -> dict[str, Any]:
    """The sample's task definition as its team keeps it in git, with a sidecar added."""
    return {
        "family": live["family"],
        "executionRoleArn": live["executionRoleArn"],
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "<IMAGE1_NAME>",
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            },
            {"name": "sidecar", "image": "<IMAGE2_NAME>", "essential": False},
        ],
    }


def images_of(stack: LocalStack, task_definition: str) -> dict[str, str]:
    described = stack.client("ecs").describe_task_definition(taskDefinition=task_definition)
    return {c["name"]: c["image"] for c in described["taskDefinition"]["containerDefinitions"]}


def deployed(run: Run) -> str:
    """Approve the run, see it succeed; the task definition it registered."""
    run.wait_for_state("RequestApproval")
    assert run.decide("approve") == 200
    execution = run.finish()
    assert execution["status"] == "SUCCEEDED", run.entered()
    return rendered_task_definition(run)


def changes_of(run: Run) -> list[dict[str, Any]]:
    output = json.loads(run.finish()["output"])
    listed: list[dict[str, Any]] = output["render"]["changes"]
    return listed


def test_a_push_of_either_repository_changes_only_its_own_container(
    start, sample_service, service_view, stack
):
    ecs = stack.client("ecs")
    running, _ = service_view()
    live = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
    web_before = images_of(stack, running)["web"]
    service = ServiceConfig.model_validate(
        {**sample_service().model_dump(), "task_definition": template_of(live), "images": IMAGES}
    )

    # The sidecar's repository is pushed: the sidecar comes in, web keeps what it runs.
    sidecar_run = start(service, tag="5c1dec4", repository="demo-sidecar")
    first = deployed(sidecar_run)

    assert service_view()[0] == first
    assert images_of(stack, first) == {"web": web_before, "sidecar": sidecar_run.state.image.pinned}
    assert production_image(stack) == web_before
    paths = [c["path"] for c in changes_of(sidecar_run)]
    assert paths[0] == "containerDefinitions[sidecar].image"
    assert "containerDefinitions[web].image" not in paths

    # Then web's repository: web takes the pushed digest, the sidecar keeps its own.
    web_run = start(service, tag="3eb0a11")
    second = deployed(web_run)

    assert service_view()[0] == second
    assert images_of(stack, second) == {
        "web": web_run.state.image.pinned,
        "sidecar": sidecar_run.state.image.pinned,
    }
    assert production_image(stack) == web_run.state.image.pinned
    assert [(c["path"], c.get("before"), c.get("after")) for c in changes_of(web_run)] == [
        ("containerDefinitions[web].image", web_before, web_run.state.image.pinned)
    ]
