"""`bluegreen rollback` and `bluegreen diff` as subprocesses against `bluegreen local serve
--sample`, as an operator runs them: production back to the first image after two
deployments, the history's own row for it, and a diff that registers nothing."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from bluegreen.domain.digest import short_digest

from tests.e2e.cli_support import bluegreen
from tests.e2e.support import (
    approval_link,
    approve,
    aws,
    dev_image,
    executions_for,
    finished,
    outbox,
    production_image,
    push,
    serve,
    state_machine,
    wait,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with serve() as running:
        yield running


def executions(endpoint: str) -> list[dict[str, Any]]:
    sfn = aws(endpoint, "stepfunctions")
    return list(sfn.list_executions(stateMachineArn=state_machine(endpoint))["executions"])


@pytest.fixture(scope="module")
def undeployed(endpoint: str) -> tuple[str, str]:
    """An image in ECR that no push deployed (the trigger's rule was off): (tag, digest)."""
    events = aws(endpoint, "events")
    rules = events.list_rules()["Rules"]
    rule = next(r["Name"] for r in rules if "aws.ecr" in str(r.get("EventPattern")))
    events.disable_rule(Name=rule)
    try:
        tag = secrets.token_hex(20)
        return tag, push(endpoint, tag)
    finally:
        events.enable_rule(Name=rule)


def deployed(endpoint: str) -> tuple[str, str]:
    """Push a new image, approve it through its emailed link, wait for it: (tag, digest)."""
    tag = secrets.token_hex(20)
    pushed = push(endpoint, tag)
    assert approve(wait(lambda: approval_link(endpoint, tag), 60, "the approval email")) == 200
    (execution,) = executions_for(endpoint, pushed)
    assert finished(endpoint, execution["executionArn"])["status"] == "SUCCEEDED"
    return tag, pushed


def approval_requests(endpoint: str, tag: str) -> int:
    return sum(
        1
        for m in outbox(endpoint)
        if m["channel"] == "email" and str(m["subject"]).startswith("[bluegreen] Approve")
        and tag in str(m["subject"])
    )  # fmt: skip


def test_with_nothing_to_roll_back_to_it_says_so_and_starts_nothing(endpoint: str) -> None:
    result = bluegreen(endpoint, "rollback", "demo-web", "--yes")

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("bluegreen: nothing to roll back to: the history of demo-web")
    assert "name an image with --to" in line
    assert executions(endpoint) == []


@pytest.fixture(scope="module")
def deployed_twice(endpoint: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two images deployed one after the other: ((tag, digest) of the first, of the second)."""
    return deployed(endpoint), deployed(endpoint)


def test_rollback_after_two_deployments_serves_the_first_image_again(
    endpoint: str, deployed_twice: tuple[tuple[str, str], tuple[str, str]]
) -> None:
    (first_tag, first), (second_tag, second) = deployed_twice
    assert production_image(endpoint).endswith(f"@{second}")

    result = bluegreen(endpoint, "rollback", "demo-web", "--yes", "--follow", "--json")

    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    name = f"demo-web-prod-{short_digest(first)}-rollback1"  # production: the last environment
    assert (done["path"], done["execution_name"]) == ("execution", name)
    assert done["status"] == "SUCCEEDED"
    assert (done["from"]["digest"], done["to"]["digest"]) == (second, first)
    assert done["serves_target"] is True
    assert production_image(endpoint).endswith(f"@{first}")
    assert dev_image(endpoint).endswith(f"@{second}")  # demo-web's rollback is production's
    assert approval_requests(endpoint, first_tag) == 1  # its first deployment's, none since

    history = bluegreen(endpoint, "history", "demo-web", "--json")
    assert history.returncode == 0, history.stderr
    latest, *_ = json.loads(history.stdout)["deployments"]
    assert latest["execution_name"] == name
    assert (latest["outcome"], latest["source"]) == ("succeeded", "rollback")
    assert latest["running"] is True
    assert (latest["tag"], latest["from"]["tag"]) == (first_tag, second_tag)
    assert latest["requested_by"] == done["requested_by"]
    assert latest["requested_by"].startswith("arn:aws:")
    assert latest["approved_by"] is None

    shown = bluegreen(endpoint, "show", name, "--json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)["document"]
    assert document["source"] == "rollback"
    assert document["rollback_request"]["from_tag"] == second_tag
    listed = json.loads(bluegreen(endpoint, "executions", "--json").stdout)
    assert [e["source"] for e in listed if e["name"] == name] == ["rollback"]


def test_rolling_back_to_the_image_production_runs_is_refused(
    endpoint: str, deployed_twice: tuple[tuple[str, str], tuple[str, str]]
) -> None:
    running = production_image(endpoint).rsplit("@", 1)[1]  # one of the two, in ECR
    production_tag = next(tag for tag, digest in deployed_twice if digest == running)

    result = bluegreen(endpoint, "rollback", "demo-web", "--to", running, "--yes")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"bluegreen: production runs {production_tag} ({short_digest(running)}) already: "
        "nothing to roll back"
    ]


def test_a_mutable_tag_is_refused_as_a_push_would_be(endpoint: str) -> None:
    result = bluegreen(endpoint, "rollback", "demo-web", "--to", "latest", "--yes")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "bluegreen: tag 'latest' is mutable and cannot identify a release; push an immutable "
        "tag such as the commit SHA"
    ]


def test_unconfirmed_it_asks_on_stderr_and_does_nothing(
    endpoint: str, undeployed: tuple[str, str]
) -> None:
    before = executions(endpoint)

    result = bluegreen(endpoint, "rollback", "demo-web", "--to", undeployed[0], answer="n\n")

    assert result.returncode == 1
    question, refusal = result.stderr.strip().splitlines()
    assert question.startswith("Roll demo-web back from ")
    tail = f"to {undeployed[0]} ({short_digest(undeployed[1])}), through a new deployment "
    assert question.rstrip().endswith(f"{tail}(test listener checks, no new approval)? [y/N]:")
    assert refusal == "bluegreen: nothing was rolled back (not confirmed; --yes skips the question)"
    assert result.stdout == ""
    assert executions(endpoint) == before


# -- diff -------------------------------------------------------------------------------------


def test_diff_shows_what_a_deployment_would_change_and_registers_nothing(
    endpoint: str, undeployed: tuple[str, str]
) -> None:
    tag, pushed = undeployed
    ecs = aws(endpoint, "ecs")
    revisions = ecs.list_task_definitions()["taskDefinitionArns"]
    started = executions(endpoint)
    running = production_image(endpoint)

    as_json = bluegreen(endpoint, "diff", "demo-web", "--tag", tag, "--json")
    human = bluegreen(endpoint, "diff", "demo-web", "--tag", tag)

    assert as_json.returncode == 0, as_json.stderr
    changes = {c["path"]: c for c in json.loads(as_json.stdout)["changes"]}
    image = changes["containerDefinitions[web].image"]
    assert (image["before"], image["after"]) == (running, running.rsplit("@", 1)[0] + f"@{pushed}")
    assert changes["tags[bluegreen:image-tag]"]["after"] == tag
    deployment = f"demo-web-prod-{short_digest(pushed)}"  # the one production would run
    assert changes["tags[bluegreen:execution]"]["after"] == deployment
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert lines[0].startswith("--- arn:aws:ecs:")
    assert lines[0].endswith("(production runs it)")
    at = lines.index("@@ containerDefinitions[web].image @@")
    assert lines[at + 1 : at + 3] == [f'-"{image["before"]}"', f'+"{image["after"]}"']
    assert ecs.list_task_definitions()["taskDefinitionArns"] == revisions
    assert executions(endpoint) == started


def test_diff_of_a_tag_ecr_does_not_hold_is_a_one_line_error(endpoint: str) -> None:
    result = bluegreen(endpoint, "diff", "demo-web", "--tag", "0000000")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["bluegreen: no image demo-web:0000000 in ECR"]
