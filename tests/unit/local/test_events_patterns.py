"""EventBridge event patterns, matched locally the way EventBridge matches them.

Cases follow the EventBridge user guide's content filtering examples; the last ones are the
app's own rules (from template.yaml) against events shaped as ECR and Step Functions emit
them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from bluegreen_cli.local.events import (
    InvalidEventPattern,
    ecr_image_action,
    matches,
    put_events_entries,
)
from bluegreen_cli.local.template import read_template

from tests.unit.local.localstack_support import PROJECT_ROOT

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3.0,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "location": "eu-west-1",
        "tags": ["prod", "web"],
        "nested": {"name": "blue", "items": [{"kind": "a"}, {"kind": "b"}]},
        "nothing": None,
        "flag": True,
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # exact values; the values listed for a field are alternatives
        ({"source": ["aws.ec2"]}, True),
        ({"source": ["aws.s3", "aws.ec2"]}, True),
        ({"source": ["aws.s3"]}, False),
        # every field of the pattern must match
        ({"source": ["aws.ec2"], "detail-type": ["Something else"]}, False),
        # nested detail
        ({"detail": {"state": ["terminated"]}}, True),
        ({"detail": {"nested": {"name": ["blue"]}}}, True),
        ({"detail": {"nested": {"name": ["green"]}}}, False),
        # an array in the event matches when any element does
        ({"detail": {"tags": ["web"]}}, True),
        ({"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}, True),
        ({"detail": {"nested": {"items": {"kind": ["b"]}}}}, True),
        # numbers compare as numbers, never as strings
        ({"detail": {"c-count": [5.0]}}, True),
        ({"detail": {"d-count": [3]}}, True),
        ({"detail": {"c-count": ["5"]}}, False),
        ({"detail": {"flag": [True]}}, True),
        ({"detail": {"flag": ["true"]}}, False),
        # null matches only null, not a missing field
        ({"detail": {"nothing": [None]}}, True),
        ({"detail": {"absent": [None]}}, False),
        # prefix / suffix / equals-ignore-case / wildcard
        ({"detail": {"state": [{"prefix": "term"}]}}, True),
        ({"detail": {"state": [{"prefix": "run"}]}}, False),
        ({"detail": {"state": [{"prefix": {"equals-ignore-case": "TERM"}}]}}, True),
        ({"detail": {"state": [{"suffix": "ated"}]}}, True),
        ({"detail": {"state": [{"equals-ignore-case": "TERMINATED"}]}}, True),
        ({"detail": {"location": [{"wildcard": "eu-*-1"}]}}, True),
        ({"detail": {"location": [{"wildcard": "us-*"}]}}, False),
        # anything-but: a value, a list, a prefix
        ({"detail": {"state": [{"anything-but": "running"}]}}, True),
        ({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}, False),
        ({"detail": {"c-count": [{"anything-but": [1, 2]}]}}, True),
        # anything-but does not match a field the event lacks
        ({"detail": {"absent": [{"anything-but": "x"}]}}, False),
        # numeric ranges
        ({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
        ({"detail": {"x-limit": [{"numeric": ["<", 300]}]}}, False),
        ({"detail": {"state": [{"numeric": [">", 0]}]}}, False),
        # exists matches on presence, including at a missing parent
        ({"detail": {"c-count": [{"exists": True}]}}, True),
        ({"detail": {"c-count": [{"exists": False}]}}, False),
        ({"detail": {"absent": [{"exists": False}]}}, True),
        ({"missing-parent": {"absent": [{"exists": False}]}}, True),
        ({"missing-parent": {"absent": [{"exists": True}]}}, False),
        # cidr
        ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
        ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, False),
        # $or of sub-patterns
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["terminated"]}}]}, True),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["running"]}}]}, False),
    ],
)
def test_pattern_matching_follows_eventbridge(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        {"source": "aws.ec2"},  # values must be in an array
        {"source": []},  # empty arrays are not allowed
        {"detail": {"state": [{"between": [1, 2]}]}},  # no such filter
        {"detail": {"c-count": [{"numeric": [">"]}]}},  # operator without value
    ],
)
def test_patterns_eventbridge_rejects_are_rejected(pattern: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventPattern):
        matches(pattern, EVENT)


def _template_patterns() -> dict[str, dict[str, Any]]:
    template = read_template(PROJECT_ROOT / "template.yaml")
    found = {}
    for logical_id, resource in template["Resources"].items():
        for name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            if event["Type"] == "EventBridgeRule":
                found[f"{logical_id}.{name}"] = event["Properties"]["Pattern"]
    return found


def test_the_trigger_rule_takes_successful_pushes_only() -> None:
    pattern = _template_patterns()["TriggerFunction.EcrPush"]
    push = ecr_image_action("demo-web", "sha256:" + "a" * 64, "1a2b3c4")

    assert matches(pattern, push)
    failed = {**push, "detail": {**push["detail"], "result": "FAILURE"}}
    assert not matches(pattern, failed)
    deleted = {**push, "detail": {**push["detail"], "action-type": "DELETE"}}
    assert not matches(pattern, deleted)


def test_the_janitor_rule_takes_the_statuses_it_lists_for_its_machine_only() -> None:
    pattern = _template_patterns()["JanitorFunction.ExecutionEndedWithoutCleanup"]
    # The pattern holds !Ref DeployStateMachine; resolve it as the local stack does.
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen-deploy"
    text = json.dumps(pattern).replace('{"Ref": "DeployStateMachine"}', f'"{machine}"')
    pattern = json.loads(text)
    listed = set(pattern["detail"]["status"])

    def change(status: str, state_machine: str = machine) -> dict[str, Any]:
        return {
            "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "detail": {"status": status, "stateMachineArn": state_machine},
        }

    assert {"ABORTED", "TIMED_OUT"} <= listed  # no Catch runs for these
    for status in ("RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"):
        assert matches(pattern, change(status)) is (status in listed), status
    other_machine = machine.replace("deploy", "other")
    assert not any(matches(pattern, change(status, other_machine)) for status in listed)


def test_an_ecr_push_event_has_the_shape_ecr_gives_it() -> None:
    event = ecr_image_action(
        "demo-web",
        "sha256:" + "b" * 64,
        "v1.2.3",
        manifest_media_type="application/vnd.docker.distribution.manifest.v2+json",
    )

    assert event["source"] == "aws.ecr"
    assert event["detail-type"] == "ECR Image Action"
    assert event["version"] == "0"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["resources"] == []
    assert event["time"].endswith("Z")
    assert event["detail"] == {
        "result": "SUCCESS",
        "repository-name": "demo-web",
        "image-digest": "sha256:" + "b" * 64,
        "action-type": "PUSH",
        "image-tag": "v1.2.3",
        "manifest-media-type": "application/vnd.docker.distribution.manifest.v2+json",
    }


def test_put_events_entries_keep_accepted_entries_with_their_event_ids() -> None:
    request = {
        "Entries": [
            {"Source": "my.app", "DetailType": "Thing", "Detail": '{"n": 1}'},
            {"Source": "my.app", "DetailType": "Bad", "Detail": "{"},
            {
                "Source": "my.app",
                "DetailType": "Other",
                "Detail": "{}",
                "EventBusName": "arn:aws:events:us-east-1:123456789012:event-bus/custom",
                "Resources": ["arn:aws:s3:::bucket"],
            },
        ]
    }
    response = {
        "Entries": [
            {"EventId": "id-1"},
            {"ErrorCode": "MalformedDetail"},
            {"EventId": "id-3"},
        ]
    }

    accepted = put_events_entries(request, response)

    assert [(bus, event["id"]) for bus, event in accepted] == [
        ("default", "id-1"),
        ("custom", "id-3"),
    ]
    assert accepted[0][1]["detail"] == {"n": 1}
    assert accepted[0][1]["detail-type"] == "Thing"
    assert accepted[1][1]["resources"] == ["arn:aws:s3:::bucket"]
