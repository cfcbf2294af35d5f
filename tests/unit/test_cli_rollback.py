"""What `bluegreen rollback` goes back to, and how `bluegreen diff` names what would change:
the pure parts, on the history rows and task definitions the commands read."""

from __future__ import annotations

from typing import Any

from bluegreen_cli.rollback import ImageView, baking, digest_of, previous_deployment
from bluegreen_cli.taskdef_diff import Change, diff, fields, unified
from bluegreen_cli.taskdef_diff import TaskDefinitionDiff as Found

from tests.unit.builders import demo_service, digest

REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-web"


def pinned(name: str) -> str:
    return f"{REPOSITORY}@{digest(name)}"


def row(name: str, outcome: str = "succeeded", **more: Any) -> dict[str, Any]:
    """A history row as Notify records it, of the image ``name``."""
    return {"execution_name": f"demo-web-{name}", "image": pinned(name), "tag": name,
            "outcome": outcome, "source": "ecr-push", **more}  # fmt: skip


def rollback_row(to: str, away_from: str) -> dict[str, Any]:
    return row(to, source="rollback", **{"from": {"image": pinned(away_from), "tag": away_from}})


def runs(name: str) -> ImageView:
    return ImageView(image=pinned(name), tag=name)


def test_the_image_before_is_the_newest_success_production_does_not_run() -> None:
    rows = [row("c", "rolled_back"), row("b"), row("a", "not_deployed"), row("z")]

    found = previous_deployment(rows, runs("b"))

    assert found is not None
    assert (found.tag, found.digest, found.execution_name) == ("z", digest("z"), "demo-web-z")


def test_rolling_back_twice_never_brings_back_the_image_rolled_back_from() -> None:
    """z, a, b deployed; rolled back from b to a: the next rollback goes to z, not to b."""
    rows = [rollback_row("a", away_from="b"), row("b"), row("a"), row("z")]

    found = previous_deployment(rows, runs("a"))

    assert found is not None
    assert found.tag == "z"


def test_an_image_deployed_again_after_its_rollback_counts_again() -> None:
    rows = [row("c"), row("b"), rollback_row("a", away_from="b"), row("b"), row("a")]

    found = previous_deployment(rows, runs("c"))

    assert found is not None
    assert found.tag == "b"


def test_nothing_before_the_only_deployment() -> None:
    assert previous_deployment([row("a")], runs("a")) is None
    assert previous_deployment([], runs("a")) is None


def test_a_digest_is_read_only_from_a_pinned_reference() -> None:
    assert digest_of(pinned("a")) == digest("a")
    assert digest_of(f"{REPOSITORY}:latest") is None
    assert digest_of(None) is None


# -- diff ---------------------------------------------------------------------------------


def test_fields_name_list_items_by_their_name_or_key() -> None:
    definition = {
        "family": "web",
        "containerDefinitions": [
            {"name": "web", "image": "a", "environment": [{"name": "MODE", "value": "x"}]},
            {"name": "sidecar", "image": "s", "portMappings": [{"containerPort": 80}]},
        ],
        "tags": [{"key": "team", "value": "payments"}],
    }

    assert fields(definition) == {
        "containerDefinitions[sidecar].image": "s",
        "containerDefinitions[sidecar].portMappings[0].containerPort": 80,
        "containerDefinitions[web].environment[MODE].value": "x",
        "containerDefinitions[web].image": "a",
        "family": "web",
        "tags[team]": "payments",
    }


def test_a_diff_lists_each_changed_added_or_removed_field() -> None:
    before = {"cpu": "256", "memory": "512", "tags": [{"key": "a", "value": "1"}]}
    after = {"cpu": "512", "memory": "512", "tags": [{"key": "b", "value": "2"}]}

    assert diff(before, after) == [
        Change("cpu", "256", "512"),
        Change("tags[a]", "1", None, removed=True),
        Change("tags[b]", None, "2", added=True),
    ]
    assert diff(before, before) == []


def test_the_human_diff_reads_like_a_unified_diff_of_the_changed_fields() -> None:
    found = Found(
        running="arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
        family="web",
        changes=[Change("containerDefinitions[web].image", "old", "new")],
    )

    assert unified(found, "3f2a9c1") == [
        "--- arn:aws:ecs:us-east-1:123456789012:task-definition/web:3 (production runs it)",
        "+++ web (the revision a deployment of 3f2a9c1 registers)",
        "@@ containerDefinitions[web].image @@",
        '-"old"',
        '+"new"',
    ]


def test_a_rolling_environment_has_no_codedeploy_bake_to_stop() -> None:
    class NoCodeDeploy:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"CodeDeploy {name} asked about a rolling environment")

    assert baking(NoCodeDeploy(), demo_service(method="rolling")) is None
