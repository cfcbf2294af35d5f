"""A service rendered from a task definition template with two containers from two
repositories, on the real state machine: a push of one repository deploys it, and the
other container keeps the digest it runs."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from bluegreen.adapters.store import StateTable
from bluegreen.domain.digest import short_digest
from bluegreen.models import ServiceConfig
from bluegreen_cli import approval_page
from bluegreen_cli.local.server import LocalStack
from conftest import Run, set_health
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


def test_a_sidecar_queued_behind_a_web_release_is_rendered_again_and_keeps_the_new_web(
    start, sample_service, service_view, stack
):
    """Nothing goes backwards: a sidecar push rendered while a web release was deploying was
    made on the old web digest. Once the web release finishes and the sidecar's turn comes,
    it is rendered again on what that release left, without asking again: production runs
    the new web and the new sidecar."""
    ecs = stack.client("ecs")
    running, _ = service_view()
    live = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
    service = ServiceConfig.model_validate(
        {**sample_service().model_dump(), "task_definition": template_of(live), "images": IMAGES}
    )
    deployed(start(service, tag="5c1dec0", repository="demo-sidecar"))  # both run by digest
    web_before = images_of(stack, service_view()[0])["web"]

    set_health(stack, False)  # the web release keeps probing while the sidecar arrives
    probing = service.timings.model_copy(update={"probe_max_attempts": 120})
    web = start(service.model_copy(update={"timings": probing}), tag="3eb0a12")
    assert web.decide("approve") == 200
    web.wait_for_state("ProbeTestListener")
    sidecar = start(service, tag="5c1dec1", repository="demo-sidecar")
    answer = approval_page.decide(sidecar.approval_link(), "approve")
    assert f"it deploys after 3eb0a12 ({short_digest(web.state.image.digest)})" in answer.body
    sidecar.wait_for_state("TakeTurn")
    first = rendered_task_definition(sidecar)
    assert images_of(stack, first)["web"] == web_before  # what it would have put back
    set_health(stack, True)

    assert web.finish()["status"] == "SUCCEEDED"
    done = sidecar.finish()

    assert done["status"] == "SUCCEEDED", sidecar.entered()
    assert images_of(stack, service_view()[0]) == {
        "web": web.state.image.pinned,
        "sidecar": sidecar.state.image.pinned,
    }
    assert production_image(stack) == web.state.image.pinned
    final = json.loads(done["output"])["render"]
    assert service_view()[0] == final["task_definition"]
    entered = sidecar.entered()
    assert entered.count("RenderTaskDefinition") == 2
    assert entered.count("RequestApproval") == 1  # the same image: not asked again
    web_revision = rendered_task_definition(web)
    # What it changed is told from what it replaced: the sidecar alone.
    assert final["previous_task_definition"] == web_revision
    assert [c["path"] for c in final["changes"]] == ["containerDefinitions[sidecar].image"]
    assert final["rendered_again"] == {
        "first_task_definition": first,
        "registered_by": web.state.execution_name,
    }
    # The service's history and channel say so.
    words = (
        f"rendered again on {web_revision.rsplit('/', 1)[-1]}, which "
        f"{web.state.execution_name} deployed while this one waited"
    )
    assert stack.app is not None
    table = StateTable(stack.client("dynamodb"), stack.app.outputs["TableName"])
    row = next(
        r
        for r in table.history(service.lock_key)
        if r["execution_name"] == sidecar.state.execution_name
    )
    assert row["rendered_again"].startswith(words)
    with urllib.request.urlopen(f"{stack.endpoint_url}/_local/outbox") as r:
        slack = [
            m for m in json.load(r) if m["channel"] == "slack" and "5c1dec1 deployed" in m["text"]
        ]
    assert any(words in json.dumps(m["blocks"]) for m in slack)
