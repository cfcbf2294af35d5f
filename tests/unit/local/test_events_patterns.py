"""EventBridge event patterns, matched locally the way EventBridge matches them.

Cases follow the EventBridge user guide's content filtering examples; the last ones are the
app's own rules (from template.yaml) against events shaped as ECR and Step Functions emit
them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from bluegreen_cli.local.event_patterns import parse_pattern, validate_pattern
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


LEAVES: dict[str, Any] = {
    "detail": {
        "c-count": {"c1": 100},
        "tags": [],
        "nothing": None,
        "items": [{"kind": "a"}],
        "matrix": [["x", "y"], ["z"]],
    }
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # "Exists matching only works on leaf nodes": an object is no leaf, so a field
        # holding one does not exist for exists, and does for exists: false.
        ({"detail": {"c-count": [{"exists": True}]}}, False),
        ({"detail": {"c-count": [{"exists": False}]}}, True),
        # an array of objects is no leaf either; an empty array has no leaf at all
        ({"detail": {"items": [{"exists": True}]}}, False),
        ({"detail": {"items": [{"exists": False}]}}, True),
        ({"detail": {"tags": [{"exists": True}]}}, False),
        ({"detail": {"tags": [{"exists": False}]}}, True),
        # null is a leaf value
        ({"detail": {"nothing": [{"exists": True}]}}, True),
        # the leaves under an object node are matched by a nested pattern
        ({"detail": {"c-count": {"c1": [{"exists": True}]}}}, True),
        ({"detail": {"items": {"kind": [{"exists": True}]}}}, True),
        # nor does anything-but match an object node (it has no value)
        ({"detail": {"c-count": [{"anything-but": "x"}]}}, False),
        # arrays nested in arrays hold leaves of the same field
        ({"detail": {"matrix": ["z"]}}, True),
    ],
)
def test_exists_and_values_apply_to_leaf_nodes_only(
    pattern: dict[str, Any], expected: bool
) -> None:
    assert matches(pattern, LEAVES) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # anything-but with equals-ignore-case: one value or a list of them
        ({"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}}, False),
        (
            {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Running", "X"]}}]}},
            True,
        ),
        (
            {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["STOPPED", "Term"]}}]}},
            True,
        ),
        (
            {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["A", "TeRmInAtEd"]}}]}},
            False,
        ),
        # anything-but with prefix / suffix
        ({"detail": {"location": [{"anything-but": {"prefix": "us-"}}]}}, True),
        ({"detail": {"location": [{"anything-but": {"prefix": "eu-"}}]}}, False),
        ({"detail": {"location": [{"anything-but": {"suffix": "-1"}}]}}, False),
        ({"detail": {"location": [{"anything-but": {"suffix": ["-2", "-3"]}}]}}, True),
        # anything-but with wildcard: one pattern or a list of them
        ({"detail": {"location": [{"anything-but": {"wildcard": "*west*"}}]}}, False),
        ({"detail": {"location": [{"anything-but": {"wildcard": ["us-*", "*-2"]}}]}}, True),
        ({"detail": {"location": [{"anything-but": {"wildcard": ["us-*", "eu-*"]}}]}}, False),
        # an array matches when any of its values is not excluded
        ({"detail": {"tags": [{"anything-but": {"prefix": "pro"}}]}}, True),
        ({"detail": {"tags": [{"anything-but": ["prod", "web"]}]}}, False),
    ],
)
def test_anything_but_with_ignore_case_prefix_suffix_and_wildcard(
    pattern: dict[str, Any], expected: bool
) -> None:
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(
    ("wildcard", "value", "expected"),
    [
        ("eu-*-1", "eu-west-1", True),
        ("*", "", True),
        # a backslash escapes an asterisk, and a backslash
        ("a\\*b", "a*b", True),
        ("a\\*b", "axxb", False),
        ("c:\\\\temp*", "c:\\temp\\x", True),
    ],
)
def test_wildcard_escapes_follow_eventbridge(wildcard: str, value: str, expected: bool) -> None:
    assert matches({"v": [{"wildcard": wildcard}]}, {"v": value}) is expected


def test_numeric_matching_is_limited_to_values_within_five_billion() -> None:
    pattern = {"n": [{"numeric": [">", 0]}]}

    assert matches(pattern, {"n": 5e9})
    assert not matches(pattern, {"n": 5e9 + 1})


def test_cidr_ranges_include_both_ends_and_ipv6() -> None:
    assert matches({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.255"})
    assert not matches({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.0"})
    assert matches({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"})
    assert not matches({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "10.0.0.1"})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        # the structure
        (["source"], "Filter is not an object"),
        ({}, "Empty objects are not allowed"),
        ({"detail": {}}, "Empty objects are not allowed"),
        ({"source": "aws.ec2"}, '"source" must be an object or an array'),
        ({"source": []}, "Empty arrays are not allowed"),
        ({"source": [["a"]]}, "Match value must be String, number, true, false, or null"),
        ({"$or": {"source": ["a"]}}, "It must be an Array followed with $or."),
        ({"$or": [{"source": ["a"]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": [{"a": ["1"]}, "b"]}, "Only JSON object is allowed in array of $or relationship."),
        (
            {"$or": [{"a": ["1"]}, {"prefix": ["b"]}]},
            "prefix is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        # content filters
        ({"a": [{}]}, "Match expression name not found"),
        ({"a": [{"between": [1, 2]}]}, "Unrecognized match type between"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "Only one key allowed in match expression"),
        ({"a": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"a": [{"prefix": {"wildcard": "x"}}]}, "Unsupported prefix pattern: wildcard"),
        ({"a": [{"suffix": ["x"]}]}, "suffix match pattern must be a string"),
        ({"a": [{"equals-ignore-case": 3}]}, "equals-ignore-case match pattern must be a string"),
        ({"a": [{"wildcard": None}]}, "wildcard match pattern must be a string"),
        ({"a": [{"wildcard": "a**"}]}, "Consecutive wildcard characters at pos 2"),
        ({"a": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 2"),
        ({"a": [{"exists": "true"}]}, "exists match pattern must be either true or false."),
        ({"a": [{"exists": 1}]}, "exists match pattern must be either true or false."),
        ({"a": [{"cidr": 10}]}, "prefix match pattern must be a string"),
        ({"a": [{"cidr": "10.0.0.0"}]}, "Malformed CIDR, one '/' required"),
        ({"a": [{"cidr": "10.0.0.0/x"}]}, "Malformed CIDR, mask bits must be an integer"),
        ({"a": [{"cidr": "10.0.0.0/32"}]}, "IPv4 mask bits must be < 32"),
        ({"a": [{"cidr": "example.com/8"}]}, "Nonstandard IP address: example.com"),
        # numeric
        ({"a": [{"numeric": 5}]}, "Value of numeric must be an array."),
        ({"a": [{"numeric": []}]}, "Invalid member in numeric match: ]"),
        ({"a": [{"numeric": [5, ">"]}]}, "Invalid member in numeric match: 5"),
        ({"a": [{"numeric": [">"]}]}, "Value of > must be numeric"),
        ({"a": [{"numeric": [">", "5"]}]}, "Value of > must be numeric"),
        ({"a": [{"numeric": ["=", True]}]}, "Value of equals must be numeric"),
        ({"a": [{"numeric": ["<", 5, ">", 1]}]}, "Too many elements in numeric expression"),
        ({"a": [{"numeric": [">", 0, ">", 5]}]}, "Bad numeric range operator: >"),
        ({"a": [{"numeric": [">", 0, 5]}]}, "Bad value in numeric range: 5"),
        ({"a": [{"numeric": [">", 0, "<", 5, 6]}]}, "Too many terms in numeric range expression"),
        ({"a": [{"numeric": [">", 5, "<", 1]}]}, "Bottom must be less than top"),
        ({"a": [{"numeric": ["!=", 1]}]}, "Unrecognized numeric range operator: !="),
        ({"a": [{"numeric": ["=", 6e9]}]}, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        # anything-but
        (
            {"a": [{"anything-but": None}]},
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            {"a": [{"anything-but": True}]},
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            {"a": [{"anything-but": ["a", None]}]},
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (
            {"a": [{"anything-but": ["a", 1]}]},
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported",
        ),
        (
            {"a": [{"anything-but": []}]},
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported",
        ),
        (
            {"a": [{"anything-but": {"numeric": [">", 1]}}]},
            "Unsupported anything-but pattern: numeric",
        ),
        ({"a": [{"anything-but": {}}]}, "Anything-But expression name not found"),
        ({"a": [{"anything-but": {"prefix": ""}}]}, "Null prefix/suffix not allowed"),
        (
            {"a": [{"anything-but": {"suffix": [1]}}]},
            "prefix/suffix match pattern must be a string",
        ),
        (
            {"a": [{"anything-but": {"equals-ignore-case": [1]}}]},
            "Inside anything-but/equals-ignore-case list, "
            "number|start|null|boolean is not supported.",
        ),
        (
            {"a": [{"anything-but": {"wildcard": ["a", 2]}}]},
            "wildcard match pattern must be a string",
        ),
        ({"a": [{"anything-but": {"wildcard": "**"}}]}, "Consecutive wildcard characters at pos 1"),
    ],
)
def test_patterns_eventbridge_refuses_are_refused_with_its_reason(
    pattern: Any, reason: str
) -> None:
    with pytest.raises(InvalidEventPattern) as refused:
        validate_pattern(pattern)

    assert str(refused.value) == reason


def test_matching_refuses_a_pattern_eventbridge_refuses() -> None:
    with pytest.raises(InvalidEventPattern):
        matches({"detail": {"c-count": [{"numeric": [">"]}]}}, EVENT)


def test_a_pattern_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidEventPattern, match="Invalid JSON"):
        parse_pattern('{"source": [')
    with pytest.raises(InvalidEventPattern):
        parse_pattern('{"n": [NaN]}')


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
