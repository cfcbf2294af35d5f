"""Rendering a task definition revision: only the image of one container changes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from bluegreen.domain.taskdef import REGISTRABLE_FIELDS, container_image, render
from bluegreen.errors import ResourceMissing

from tests.unit.builders import PREVIOUS_IMAGE

NEW_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-web@sha256:" + "b" * 64

# DescribeTaskDefinition's output, as ECS returns it for a Fargate service.
DESCRIBED: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    "family": "web",
    "revision": 7,
    "status": "ACTIVE",
    "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "networkMode": "awsvpc",
    "containerDefinitions": [
        {
            "name": "web",
            "image": PREVIOUS_IMAGE,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "MODE", "value": "production"}],
            "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:p/db"}],
        },
        {"name": "log-router", "image": "fluent-bit:2.32.0", "essential": False},
    ],
    "volumes": [],
    "placementConstraints": [],
    "requiresCompatibilities": ["FARGATE"],
    "compatibilities": ["EC2", "FARGATE"],
    "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.task-iam-role"}],
    "cpu": "256",
    "memory": "512",
    "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
    "registeredAt": "2026-03-01T10:00:00+00:00",
    "registeredBy": "arn:aws:sts::123456789012:assumed-role/deployer/session",
    "deregisteredAt": None,
    "tags": [{"key": "team", "value": "web"}],
}

READ_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "compatibilities",
    "requiresAttributes",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)


def test_only_the_image_of_the_named_container_changes() -> None:
    definition, changes = render(copy.deepcopy(DESCRIBED), "web", NEW_IMAGE)

    web, sidecar = definition["containerDefinitions"]
    assert web["image"] == NEW_IMAGE
    assert {k: v for k, v in web.items() if k != "image"} == {
        k: v for k, v in DESCRIBED["containerDefinitions"][0].items() if k != "image"
    }
    assert sidecar == DESCRIBED["containerDefinitions"][1]
    for key in ("family", "taskRoleArn", "executionRoleArn", "networkMode", "cpu", "memory"):
        assert definition[key] == DESCRIBED[key]
    assert definition["runtimePlatform"] == DESCRIBED["runtimePlatform"]
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("containerDefinitions[web].image", PREVIOUS_IMAGE, NEW_IMAGE)
    ]


def test_read_only_fields_are_dropped_so_register_accepts_the_result() -> None:
    definition, _ = render(copy.deepcopy(DESCRIBED), "web", NEW_IMAGE)

    for key in READ_ONLY:
        assert key not in definition
    assert set(definition) <= {*REGISTRABLE_FIELDS, "tags"}
    # Empty lists are left out rather than sent back as empty.
    assert "volumes" not in definition
    assert "placementConstraints" not in definition


def test_tags_are_passed_only_when_given() -> None:
    untagged, _ = render(copy.deepcopy(DESCRIBED), "web", NEW_IMAGE)
    tagged, _ = render(copy.deepcopy(DESCRIBED), "web", NEW_IMAGE, [{"key": "a", "value": "b"}])

    assert "tags" not in untagged
    assert tagged["tags"] == [{"key": "a", "value": "b"}]


def test_the_described_definition_is_left_as_it_was() -> None:
    described = copy.deepcopy(DESCRIBED)

    render(described, "web", NEW_IMAGE)

    assert described == DESCRIBED


def test_the_same_image_again_records_no_change() -> None:
    definition, changes = render(copy.deepcopy(DESCRIBED), "web", PREVIOUS_IMAGE)

    assert changes == []
    assert definition["containerDefinitions"][0]["image"] == PREVIOUS_IMAGE


def test_an_unknown_container_is_a_missing_resource_naming_what_exists() -> None:
    with pytest.raises(ResourceMissing, match=r"no container 'api' \(has: web, log-router\)"):
        render(copy.deepcopy(DESCRIBED), "api", NEW_IMAGE)


def test_container_image_reads_one_container() -> None:
    assert container_image(DESCRIBED, "web") == PREVIOUS_IMAGE
    assert container_image(DESCRIBED, "log-router") == "fluent-bit:2.32.0"
    assert container_image(DESCRIBED, "api") is None
