"""Newest wins, on the real ASL: a newer image supersedes an older one still waiting, one
that arrives during a deployment waits for it and deploys next, and a push never takes
production backwards. Images are ordered by ECR's push time (``image.pushed_at``)."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

from bluegreen.domain.digest import short_digest
from bluegreen_cli import approval_page

from tests.e2e.support import decision_form, http
from tests.statemachine.conftest import set_health


def production_image(stack) -> str:  # type: ignore[no-untyped-def]
    ecs = stack.client("ecs")
    running = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=running["taskDefinition"])
    return str(definition["taskDefinition"]["containerDefinitions"][0]["image"])


def outbox(stack) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    with urllib.request.urlopen(f"{stack.endpoint_url}/_local/outbox") as r:
        return list(json.load(r))


def test_a_newer_push_supersedes_the_one_waiting_for_approval_and_its_links_die(start, stack):  # type: ignore[no-untyped-def]
    older = start(tag="a1a1a1a")
    older.wait_for_state("RequestApproval")
    link = older.approval_link()
    status, page = http(link)
    assert status == 200
    stale_form = decision_form(page, link)  # opened before the newer image arrived

    newer = start(tag="b2b2b2b")
    ended = older.finish(timeout=30)

    label = f"b2b2b2b ({short_digest(newer.state.image.digest)})"
    assert ended["status"] == "FAILED"
    assert ended["error"] == "Superseded"
    assert label in ended["cause"]
    assert "RequestApproval" in older.entered()
    assert "TakeTurn" not in older.entered()
    # Its link now says what replaced it and offers no decision; a form opened before is refused.
    status, page = http(link)
    assert status == 200
    assert f"superseded by {label}" in page
    assert 'name="nonce"' not in page
    target, nonce = stale_form
    status, page = http(target, {"nonce": nonce, "decision": "approve"})
    assert status == 409
    assert f"superseded by {label}" in page
    # The approvers who hold its links are told; so is the channel.
    withdrawn = [
        m for m in outbox(stack) if m["channel"] == "email" and "a1a1a1a superseded" in m["subject"]
    ]
    assert [m["to"] for m in withdrawn] == ["approver@example.com"]
    assert any(m["channel"] == "slack" and "a1a1a1a superseded" in m["text"] for m in outbox(stack))

    assert newer.decide("approve") == 200
    assert newer.finish()["status"] == "SUCCEEDED"
    assert production_image(stack) == newer.state.image.pinned


def test_an_image_pushed_during_a_deployment_waits_for_it_and_deploys_next(
    start, stack, sample_service
):  # type: ignore[no-untyped-def]
    set_health(stack, False)  # the first deployment keeps probing while the second arrives
    first = start(sample_service(timings={"probe_max_attempts": 120}), tag="c3c3c3c")
    assert first.decide("approve") == 200
    first.wait_for_state("ProbeTestListener")

    second = start(tag="d4d4d4d")
    answer = approval_page.decide(second.approval_link(), "approve")
    label = f"c3c3c3c ({short_digest(first.state.image.digest)})"
    assert answer.status == 200
    assert f"approved; it deploys after {label} finishes" in answer.body
    second.wait_for_state("TakeTurn")
    assert "SuspendScaling" not in second.entered()
    set_health(stack, True)

    assert first.finish()["status"] == "SUCCEEDED"
    done = second.finish()
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["turn"]["behind"] == first.state.execution_name
    assert production_image(stack) == second.state.image.pinned


def test_an_image_older_than_the_one_production_runs_is_never_deployed_by_a_push(
    start, stack, service_view
):  # type: ignore[no-untyped-def]
    newer = start(tag="e5e5e5e")
    assert newer.decide("approve") == 200
    assert newer.finish()["status"] == "SUCCEEDED"
    before = service_view()
    assert newer.state.image.pushed_at is not None

    late = start(tag="f6f6f6f", pushed_at=newer.state.image.pushed_at - timedelta(minutes=5))
    ended = late.finish(timeout=30)

    assert ended["status"] == "FAILED"
    assert ended["error"] == "ImageOutdated"
    assert f"before e5e5e5e ({short_digest(newer.state.image.digest)})" in ended["cause"]
    assert "RenderTaskDefinition" not in late.entered()  # nothing registered, nobody asked
    assert service_view() == before
    assert production_image(stack) == newer.state.image.pinned
