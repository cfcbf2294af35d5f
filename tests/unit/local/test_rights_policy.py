"""IAM policy evaluation as the IAM User Guide's "Policy evaluation logic" describes it."""

from __future__ import annotations

from typing import Any

import pytest
from bluegreen_cli.local.rights.policy import (
    Need,
    UnsupportedCondition,
    evaluate,
    resource_matches,
)

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/bluegreen-StateTable"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_nothing_allowed_is_an_implicit_deny() -> None:
    decision = evaluate([], Need("dynamodb:GetItem", TABLE))
    assert (decision.allowed, decision.reason) == (False, "implicit deny")


def test_an_explicit_deny_wins_over_any_allow() -> None:
    documents = [
        policy(allow("dynamodb:*", TABLE)),
        policy({"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}),
    ]
    assert evaluate(documents, Need("dynamodb:GetItem", TABLE)).allowed
    denied = evaluate(documents, Need("dynamodb:DeleteItem", TABLE))
    assert (denied.allowed, denied.reason) == (False, "explicit deny")


def test_actions_match_case_insensitively_with_wildcards() -> None:
    documents = [policy(allow(["DynamoDB:get*", "ecs:Describe?ervices"]))]
    assert evaluate(documents, Need("dynamodb:GetItem")).allowed
    assert evaluate(documents, Need("ecs:DescribeServices")).allowed
    assert not evaluate(documents, Need("dynamodb:PutItem")).allowed


def test_a_resource_must_match_the_statement_resource() -> None:
    documents = [policy(allow("dynamodb:GetItem", TABLE))]
    assert evaluate(documents, Need("dynamodb:GetItem", TABLE)).allowed
    assert not evaluate(documents, Need("dynamodb:GetItem", TABLE + "-other")).allowed


def test_a_call_on_no_particular_resource_needs_resource_star() -> None:
    # Actions without resource-level permissions are allowed only by "Resource": "*".
    scoped = [policy(allow("codedeploy:StopDeployment", "arn:aws:codedeploy:*:*:*"))]
    assert not evaluate(scoped, Need("codedeploy:StopDeployment", "*")).allowed
    assert evaluate(
        [policy(allow("codedeploy:StopDeployment"))], Need("codedeploy:StopDeployment")
    ).allowed


def test_secrets_manager_name_pattern_matches_only_the_six_character_suffix() -> None:
    pattern = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bluegreen/slack-??????"
    assert resource_matches(pattern, pattern.replace("??????", "AbC123"))
    # A secret that does not exist is checked against its bare name: no suffix, no match.
    assert not resource_matches(pattern, pattern.removesuffix("-??????"))


def test_a_wildcard_does_not_reach_into_another_arn_part() -> None:
    assert resource_matches(
        "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*",
        "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:demo-web/demo-web",
    )
    assert not resource_matches(
        "arn:aws:ecs:*",  # one part standing for the rest is not how IAM reads an ARN
        "arn:aws:ecs:us-east-1:123456789012:service/demo/web",
    )


def test_not_action_and_not_resource() -> None:
    documents = [
        policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": TABLE}),
    ]
    assert evaluate(
        documents, Need("ecs:DescribeServices", "arn:aws:ecs:us-east-1:1:service/a/b")
    ).allowed
    assert not evaluate(documents, Need("iam:PassRole", "arn:aws:iam::1:role/x")).allowed
    assert not evaluate(documents, Need("dynamodb:GetItem", TABLE)).allowed


def test_string_equals_condition_on_a_context_key() -> None:
    documents = [
        policy(
            allow(
                "ses:SendEmail",
                Condition={"StringEquals": {"ses:FromAddress": "bluegreen@example.com"}},
            )
        )
    ]
    assert evaluate(
        documents, Need("ses:SendEmail", "*", {"ses:FromAddress": "bluegreen@example.com"})
    ).allowed
    assert not evaluate(
        documents, Need("ses:SendEmail", "*", {"ses:FromAddress": "x@example.com"})
    ).allowed


def test_a_missing_key_fails_a_condition_unless_negated_or_if_exists() -> None:
    # IAM User Guide, condition operators: an absent key does not match, so the condition
    # is false, except for negated operators and the ...IfExists forms.
    def allowed(condition: dict[str, Any]) -> bool:
        return evaluate(
            [policy(allow("iam:PassRole", Condition=condition))], Need("iam:PassRole")
        ).allowed

    assert not allowed({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}})
    assert allowed({"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}})
    assert allowed({"StringEqualsIfExists": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}})
    assert allowed({"Null": {"iam:PassedToService": "true"}})


def test_set_qualifiers_on_multivalued_keys() -> None:
    any_value = [
        policy(
            allow(
                "ecs:TagResource", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}
            )
        )
    ]
    all_values = [
        policy(
            allow(
                "ecs:TagResource",
                Condition={"ForAllValues:StringLike": {"aws:TagKeys": ["bluegreen:*"]}},
            )
        )
    ]
    tags = {"aws:TagKeys": ["team", "bluegreen:image"]}
    assert evaluate(any_value, Need("ecs:TagResource", "*", tags)).allowed
    assert not evaluate(all_values, Need("ecs:TagResource", "*", tags)).allowed
    assert evaluate(
        all_values, Need("ecs:TagResource", "*", {"aws:TagKeys": ["bluegreen:image"]})
    ).allowed


def test_an_unknown_operator_is_refused_rather_than_guessed() -> None:
    documents = [policy(allow("ecs:TagResource", Condition={"StringSomehow": {"a": "b"}}))]
    with pytest.raises(UnsupportedCondition):
        evaluate(documents, Need("ecs:TagResource", "*", {"a": "b"}))
