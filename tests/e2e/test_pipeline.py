"""The sample's pipeline on `bluegreen local serve --sample`, driven with boto3 and HTTP only:
a push deploys its digest to development (account 111111111111, ECS's rolling update, nobody
asked), and only then asks for production's approval; approving deploys the same digest to
production. A development release that ECS's circuit breaker stops goes no further."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.e2e.support import (
    approval_link,
    decision_form,
    dev_client,
    dev_image,
    executions_for,
    finished,
    history,
    http,
    outbox,
    production_image,
    push,
    sample,
    wait,
)

pytestmark = pytest.mark.e2e


def commit() -> str:
    return secrets.token_hex(20)


def test_a_push_deploys_to_dev_first_then_asks_for_prod_and_deploys_the_same_digest(
    endpoint: str,
) -> None:
    tag = commit()
    before = production_image(endpoint)
    digest = push(endpoint, tag)

    (dev,) = wait(lambda: executions_for(endpoint, tag, "dev"), 60, "the dev execution")
    dev_done = finished(endpoint, dev["executionArn"])
    assert dev_done["status"] == "SUCCEEDED", dev_done.get("cause")
    assert dev["name"] == f"demo-web-dev-{digest[7:19]}"
    assert dev_image(endpoint).endswith(f"demo-web@{digest}")
    assert production_image(endpoint) == before  # production waits for its approval

    link = wait(lambda: approval_link(endpoint, tag), 60, "production's approval email")
    (prod,) = executions_for(endpoint, tag, "prod")
    assert prod["name"] == f"demo-web-prod-{digest[7:19]}"
    # Started (and so asked) only once dev had deployed: by dev's own Promote step.
    promoted = next(
        e["timestamp"]
        for e in history(endpoint, dev["executionArn"])
        if e.get("stateEnteredEventDetails", {}).get("name") == "Promote"
    )
    assert prod["startDate"] >= promoted
    assert json.loads(dev_done["input"])["service"]["approvers"] == []
    request = next(m for m in outbox(endpoint) if m["channel"] == "email" and tag in m["subject"])
    assert "dev since" in request["text"]

    status, page = http(link)
    assert status == 200
    target, nonce = decision_form(page, link)
    assert http(target, {"nonce": nonce, "decision": "approve"})[0] == 200
    prod_done = finished(endpoint, prod["executionArn"])
    assert prod_done["status"] == "SUCCEEDED", prod_done.get("cause")
    assert production_image(endpoint).endswith(f"demo-web@{digest}")
    assert json.loads(prod_done["input"])["promoted_from"] == "dev"


def test_a_dev_release_the_circuit_breaker_stops_is_rolled_back_and_never_reaches_prod(
    endpoint: str,
) -> None:
    """ECS deployment circuit breaker: a deployment whose tasks fail to start is FAILED and,
    with rollback on, ECS returns the service to its last completed deployment."""
    ecs = dev_client(endpoint, "ecs")
    running = ecs.describe_services(cluster="demo-dev", services=["web"])["services"][0]
    sample(endpoint, dev_healthy=False)
    try:
        tag = commit()
        push(endpoint, tag)
        (dev,) = wait(lambda: executions_for(endpoint, tag, "dev"), 60, "the dev execution")
        done = finished(endpoint, dev["executionArn"])
    finally:
        sample(endpoint, dev_healthy=True)

    assert done["status"] == "FAILED"
    assert "circuit breaker" in done.get("cause", "")
    after = ecs.describe_services(cluster="demo-dev", services=["web"])["services"][0]
    assert after["taskDefinition"] == running["taskDefinition"]
    # The execution that would promote has ended: nothing started for production.
    assert executions_for(endpoint, tag, "prod") == []
