"""Reading a SAM template as data and resolving its intrinsic functions locally."""

from __future__ import annotations

import string
from typing import Any

import pytest
from bluegreen_cli.local.intrinsics import (
    NO_VALUE,
    Resolver,
    TemplateError,
    load_template_text,
    parameter_values,
)
from bluegreen_cli.local.template import (
    HttpRoute,
    creation_order,
    generate_secret_string,
    match_route,
    merge_globals,
)


def test_short_form_tags_load_as_long_form_intrinsics() -> None:
    template = load_template_text(
        """
        A: !Ref Thing
        B: !GetAtt Table.StreamArn
        C: !Sub "${AWS::StackName}-x"
        D: !If [IsProd, 1, 2]
        E: !Join [",", [a, b]]
        F: !Select [0, !Split [",", "a,b"]]
        G: !Equals [!Ref Env, prod]
        H: !FindInMap [Sizes, !Ref Env, Memory]
        """
    )

    assert template == {
        "A": {"Ref": "Thing"},
        "B": {"Fn::GetAtt": ["Table", "StreamArn"]},
        "C": {"Fn::Sub": "${AWS::StackName}-x"},
        "D": {"Fn::If": ["IsProd", 1, 2]},
        "E": {"Fn::Join": [",", ["a", "b"]]},
        "F": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
        "G": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "H": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]},
    }


def _resolver(**parameters: Any) -> Resolver:
    resources = {"Fn": "bluegreen-Fn", "Table": "bluegreen-Table"}
    attributes = {("Fn", "Arn"): "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-Fn"}

    def ref(name: str) -> Any:
        return resources[name]

    def get_att(name: str, attribute: str) -> Any:
        return attributes[(name, attribute)]

    return Resolver(
        parameters={"Env": "dev", "Subnets": [], **parameters},
        ref=ref,
        get_att=get_att,
        conditions={
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "HasSubnets": {
                "Fn::Not": [{"Fn::Equals": [{"Fn::Join": [",", {"Ref": "Subnets"}]}, ""]}]
            },
            "ProdOrSubnets": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "HasSubnets"}]},
        },
        mappings={"Sizes": {"dev": {"Memory": 128}, "prod": {"Memory": 1024}}},
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "AWS::Region"}, "us-east-1"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "Env"}, "dev"),
        ({"Ref": "Table"}, "bluegreen-Table"),
        (
            {"Fn::GetAtt": ["Fn", "Arn"]},
            "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-Fn",
        ),
        ({"Fn::Sub": "${AWS::StackName}-${Env}-${Table}"}, "bluegreen-dev-bluegreen-Table"),
        (
            {"Fn::Sub": "${Fn.Arn}:live"},
            "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-Fn:live",
        ),
        ({"Fn::Sub": ["${Name}.${AWS::URLSuffix}", {"Name": {"Ref": "Env"}}]}, "dev.amazonaws.com"),
        ({"Fn::Sub": "literal ${!NotAVariable}"}, "literal ${NotAVariable}"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "small"),
        ({"Fn::If": ["ProdOrSubnets", "vpc", "none"]}, "none"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Env"}]]}, "a-dev"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}, 128),
        ({"Fn::Equals": [{"Ref": "Env"}, "dev"]}, True),
    ],
)
def test_intrinsics_resolve(expression: Any, expected: Any) -> None:
    assert _resolver().resolve(expression) == expected


def test_no_value_removes_the_property_or_item() -> None:
    resolved = _resolver().resolve(
        {
            "VpcConfig": {"Fn::If": ["HasSubnets", {"SubnetIds": ["s"]}, {"Ref": "AWS::NoValue"}]},
            "Layers": ["a", {"Ref": "AWS::NoValue"}, "b"],
            "Keep": 1,
        }
    )

    assert resolved == {"Layers": ["a", "b"], "Keep": 1}
    assert _resolver().resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_a_property_named_condition_stays_data() -> None:
    statement = {"Effect": "Allow", "Condition": {"StringEquals": {"k": "v"}}}

    assert _resolver().resolve(statement) == statement


def test_an_unknown_reference_is_an_error() -> None:
    with pytest.raises(TemplateError, match="Missing"):
        _resolver().resolve({"Ref": "Missing"})


def test_parameters_take_defaults_types_and_overrides() -> None:
    declared = {
        "Sender": {"Type": "String", "Default": "a@example.com"},
        "Approvers": {"Type": "CommaDelimitedList", "Default": "x@example.com, y@example.com"},
        "Empty": {"Type": "CommaDelimitedList", "Default": ""},
        "Size": {"Type": "Number", "Default": 3},
    }

    assert parameter_values(declared, {"Sender": "b@example.com"}) == {
        "Sender": "b@example.com",
        "Approvers": ["x@example.com", "y@example.com"],
        "Empty": [],
        "Size": "3",
    }
    with pytest.raises(TemplateError, match="Typo"):
        parameter_values(declared, {"Typo": "x"})
    with pytest.raises(TemplateError, match="Required"):
        parameter_values({"Required": {"Type": "String"}})


def test_globals_merge_as_sam_merges_them() -> None:
    merged = merge_globals(
        {
            "Runtime": "python3.13",
            "Layers": [{"Ref": "Common"}],
            "Environment": {"Variables": {"LOG_LEVEL": "INFO", "A": "global"}},
            "Timeout": 30,
        },
        {
            "Layers": [{"Ref": "Extra"}],
            "Environment": {"Variables": {"A": "own"}},
            "Timeout": 10,
        },
    )

    assert merged == {
        "Runtime": "python3.13",
        "Layers": [{"Ref": "Common"}, {"Ref": "Extra"}],
        "Environment": {"Variables": {"LOG_LEVEL": "INFO", "A": "own"}},
        "Timeout": 10,
    }


def test_resources_are_created_after_what_they_refer_to() -> None:
    resources = {
        "Trigger": {"Properties": {"Env": {"Ref": "Machine"}}},
        "Machine": {"Properties": {"Sub": {"A": {"Fn::GetAtt": ["Step", "Arn"]}}}},
        "Step": {"Properties": {"T": {"Fn::Sub": "${Table}"}}},
        "Table": {"Properties": {}},
        "Alarm": {"DependsOn": "Trigger", "Properties": {}},
    }

    order = creation_order(resources)

    assert order.index("Table") < order.index("Step") < order.index("Machine")
    assert order.index("Machine") < order.index("Trigger") < order.index("Alarm")


def test_circular_references_are_reported() -> None:
    with pytest.raises(TemplateError, match="circular"):
        creation_order(
            {"A": {"Properties": {"x": {"Ref": "B"}}}, "B": {"Properties": {"y": {"Ref": "A"}}}}
        )


def test_routes_are_chosen_as_http_apis_choose_them() -> None:
    routes = [
        HttpRoute("GET", "/approvals/{approval_id}", "Show"),
        HttpRoute("POST", "/approvals/{approval_id}", "Decide"),
        HttpRoute("GET", "/approvals/health", "Health"),
        HttpRoute("ANY", "/files/{proxy+}", "Files"),
    ]

    assert match_route(routes, "GET", "/approvals/abc") == (routes[0], {"approval_id": "abc"})
    assert match_route(routes, "POST", "/approvals/abc") == (routes[1], {"approval_id": "abc"})
    assert match_route(routes, "GET", "/approvals/health") == (routes[2], {})
    assert match_route(routes, "PUT", "/files/a/b.txt") == (routes[3], {"proxy": "a/b.txt"})
    assert match_route(routes, "DELETE", "/approvals/abc") is None
    assert match_route(routes, "GET", "/approvals/abc/more") is None


def test_generated_secrets_follow_the_requested_alphabet() -> None:
    value = generate_secret_string({"PasswordLength": 64, "ExcludePunctuation": True})

    assert len(value) == 64
    assert set(value) <= set(string.ascii_letters + string.digits)
    assert generate_secret_string({}) != generate_secret_string({})
    templated = generate_secret_string(
        {"SecretStringTemplate": '{"user": "app"}', "GenerateStringKey": "password"}
    )
    assert templated.startswith('{"user": "app", "password": "')
