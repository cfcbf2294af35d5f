"""What a revision changes from the one running, as approvers read it."""

from __future__ import annotations

import copy
import json
from typing import Any

from bluegreen.domain.taskdef import CHANGES_MAX_BYTES, VALUE_MAX_CHARS, changes, comparable

RUNNING: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:4",
    "family": "web",
    "revision": 4,
    "networkMode": "awsvpc",
    "containerDefinitions": [
        {
            "name": "web",
            "image": "web@sha256:" + "0" * 64,
            "cpu": 0,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "MODE", "value": "production"}],
            "mountPoints": [],
            "volumesFrom": [],
        }
    ],
    "volumes": [],
    "tags": [{"key": "bluegreen:execution", "value": "web-0000000"}],
}


def rendered(**container: Any) -> dict[str, Any]:
    web = {
        "name": "web",
        "image": "web@sha256:" + "1" * 64,
        "portMappings": [{"containerPort": 8080}],
        "environment": [{"name": "MODE", "value": "production"}],
        **container,
    }
    return {
        "family": "web",
        "networkMode": "awsvpc",
        "containerDefinitions": [web],
        "tags": [{"key": "bluegreen:execution", "value": "web-1111111"}],
    }


def test_what_ecs_fills_in_by_default_is_no_change() -> None:
    found = changes(RUNNING, rendered())

    assert [(c.path, c.before, c.after) for c in found] == [
        ("containerDefinitions[web].image", "web@sha256:" + "0" * 64, "web@sha256:" + "1" * 64)
    ]


def test_a_default_said_otherwise_is_a_change() -> None:
    found = changes(RUNNING, rendered(essential=False, cpu=128))

    assert [(c.path, c.before, c.after) for c in found][1:] == [
        ("containerDefinitions[web].cpu", None, "128"),
        ("containerDefinitions[web].essential", None, "false"),
    ]


def test_a_bridge_mode_host_port_left_out_is_a_change() -> None:
    """In bridge mode a host port left out is a dynamic one, not the container's port."""
    bridge = {**RUNNING, "networkMode": "bridge"}
    template = rendered()
    del template["networkMode"]

    found = changes(bridge, template)

    assert ("containerDefinitions[web].portMappings[0].hostPort", "8080", None) in [
        (c.path, c.before, c.after) for c in found
    ]


def test_added_and_removed_fields_have_no_value_on_the_side_they_lack() -> None:
    found = changes(RUNNING, rendered(environment=[{"name": "LOG_LEVEL", "value": "debug"}]))

    assert [(c.path, c.before, c.after) for c in found][1:] == [
        ("containerDefinitions[web].environment[LOG_LEVEL].value", None, "debug"),
        ("containerDefinitions[web].environment[MODE].value", "production", None),
    ]


def test_a_long_value_is_cut_and_says_so() -> None:
    found = changes(RUNNING, rendered(command=["x" * 2000]))

    (command,) = [c for c in found if c.path == "containerDefinitions[web].command[0]"]
    assert command.after is not None
    assert len(command.after) <= VALUE_MAX_CHARS
    assert command.after.endswith(f"... ({2000 - (VALUE_MAX_CHARS - 40)} more characters)")


def test_past_the_budget_a_last_entry_says_how_many_more_changed() -> None:
    variables = [{"name": f"VAR_{i:03}", "value": "v" * 200} for i in range(200)]

    found = changes(RUNNING, rendered(environment=variables))

    assert found[0].path == "containerDefinitions[web].image"  # the image always comes first
    shown = sum(len(json.dumps(c.model_dump(), separators=(",", ":"))) for c in found[:-1])
    assert shown <= CHANGES_MAX_BYTES
    last = found[-1]
    changed = 1 + 200 + 1  # the image, 200 variables added, MODE removed
    more = changed - (len(found) - 1)
    assert last.path == f"... and {more} more changed fields: bluegreen diff lists every one"
    assert (last.before, last.after) == (None, None)


def test_comparable_leaves_the_revision_given_as_it_was() -> None:
    kept = copy.deepcopy(RUNNING)

    comparable(RUNNING)

    assert kept == RUNNING
