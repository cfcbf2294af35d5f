"""scripts/check_limits.py: AWS quotas checked on small fixtures, then on the project itself.

Each fixture is the smallest template or state machine that sits on one side of a quota.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bluegreen.adapters.aws import SDK_CONFIG
from botocore.config import Config

from scripts.check_limits import by_method, check, largest_documents, transform
from scripts.limits import Result
from scripts.limits.history import HISTORY_EVENTS, history_events
from scripts.limits.iam import (
    ROLE_POLICY_SIZE,
    inline_policy_size,
    longest_length,
    managed_policies_per_role,
)
from scripts.limits.payload import PAYLOAD_BYTES, payload_sizes
from scripts.limits.timeouts import (
    probe_within_timeout,
    sdk_attempts,
    sdk_time_within_timeouts,
    sdk_worst_case_seconds,
)
from tests.unit.builders import ROOT


def _state_machine_template(destinations: int) -> str:
    """A state machine whose connector invokes ``destinations`` functions, with tracing on."""
    functions = "".join(
        f"""
  Step{i}:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: index.handler
      InlineCode: "def handler(event, context): return event"
"""
        for i in range(destinations)
    )
    ids = "".join(f"\n            - Id: Step{i}" for i in range(destinations))
    return f"""
Transform: AWS::Serverless-2016-10-31
Resources:{functions}
  Machine:
    Type: AWS::Serverless::StateMachine
    Connectors:
      InvokeSteps:
        Properties:
          Destination:{ids}
          Permissions: [Write]
    Properties:
      Definition:
        StartAt: Done
        States:
          Done:
            Type: Succeed
      Tracing:
        Enabled: true
"""


def _role(results: list[Result], subject: str) -> Result:
    (found,) = [r for r in results if r.subject == subject]
    return found


# --- managed policies per role (IAM PoliciesPerRole, default 10) ---------------------------


def test_a_connector_to_ten_functions_plus_tracing_breaches_the_managed_policy_quota() -> None:
    """IAM: "Cannot exceed quota for PoliciesPerRole: 10": SAM emits one managed policy per
    connector destination, and Tracing attaches one more."""
    role = _role(managed_policies_per_role(transform(_state_machine_template(10))), "MachineRole")

    assert not role.ok
    assert role.value.startswith("11 ")


def test_nine_destinations_plus_tracing_fit_the_managed_policy_quota() -> None:
    role = _role(managed_policies_per_role(transform(_state_machine_template(9))), "MachineRole")

    assert role.ok
    assert role.value.startswith("10 ")


def test_a_conditional_managed_policy_counts_when_its_condition_may_hold() -> None:
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "ManagedPolicyArns": ["arn:a"]
                    + [
                        {"Fn::If": ["InVpc", f"arn:{i}", {"Ref": "AWS::NoValue"}]}
                        for i in range(10)
                    ]
                },
            }
        }
    }

    (role,) = managed_policies_per_role(template)

    assert not role.ok
    assert role.value.startswith("11 ")


# --- inline role policy size (10,240 characters, whitespace excluded) ----------------------


def _inline_policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                        }
                    ]
                },
            }
        }
    }


def test_whitespace_is_not_counted_and_intrinsics_take_their_longest_value() -> None:
    assert longest_length({"Action": ["s3:GetObject", "s3:PutObject"]}, {}) == len(
        '{"Action":["s3:GetObject","s3:PutObject"]}'
    )
    # "arn:" + the longest partition (aws-us-gov) + ":x", quoted
    assert longest_length({"Fn::Sub": "arn:${AWS::Partition}:x"}, {}) == len('"arn:aws-us-gov:x"')
    assert longest_length({"Ref": "Name"}, {"Name": {"MaxLength": 20}}) == 22
    assert longest_length({"Fn::If": ["C", "ab", "abcd"]}, {}) == len('"abcd"')


def test_inline_policies_over_10240_characters_breach_the_role_policy_size_quota() -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::GetAtt": "B.Arn"}}
    one = longest_length(statement, {})
    fitting = _inline_policy([statement] * ((ROLE_POLICY_SIZE - 100) // (one + 1)))
    too_many = _inline_policy([statement] * (ROLE_POLICY_SIZE // one + 1))

    assert inline_policy_size(fitting)[0].ok
    assert not inline_policy_size(too_many)[0].ok


# --- one AWS call's worst case vs each function's Timeout -----------------------------------


def test_botocore_defaults_can_outlast_any_lambda_timeout() -> None:
    """60 s connect + 60 s read; legacy mode 5 attempts, standard mode 3."""
    assert sdk_worst_case_seconds(Config()) == 5 * 120 + (1 + 2 + 4 + 8)
    assert sdk_worst_case_seconds(Config(retries={"mode": "standard"})) == 3 * 120 + (1 + 2)


def test_max_attempts_counts_retries_only_and_total_max_attempts_counts_them_all() -> None:
    retries_only = Config(retries={"mode": "standard", "max_attempts": 3})
    total = Config(retries={"mode": "standard", "total_max_attempts": 3})

    assert (sdk_attempts(retries_only), sdk_attempts(total)) == (4, 3)


def test_a_function_whose_timeout_one_call_can_outlast_is_a_breach() -> None:
    template = {
        "Resources": {
            "Quick": {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": 10}},
            "Patient": {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": 30}},
            "Default": {"Type": "AWS::Lambda::Function", "Properties": {}},  # 3 s
        }
    }
    # 3 x (5 + 3) + 1 + 2 = 27 s
    config = Config(
        connect_timeout=5, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 3}
    )

    verdicts = {r.subject: r.ok for r in sdk_time_within_timeouts(template, config)}

    assert verdicts == {"Quick": False, "Patient": True, "Default": False}


def test_a_probe_request_timeout_equal_to_the_function_timeout_is_a_breach() -> None:
    template = {
        "Resources": {"Probe": {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": 30}}}
    }

    assert not probe_within_timeout(template, "Probe", 30.0)[0].ok
    assert probe_within_timeout(template, "Probe", 29.5)[0].ok
    assert not probe_within_timeout(template, "Missing", 1.0)[0].ok


# --- execution history (25,000 events) ------------------------------------------------------


def _task(function: str, then: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        "Next": then,
        **extra,
    }


POLLING = {
    "StartAt": "Start",
    "States": {
        "Start": _task("${Start}", "Wait", Retry=[{"ErrorEquals": ["X"], "MaxAttempts": 2}]),
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Poll"},
        "Poll": _task("${Poll}", "Done?"),
        "Done?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Wait",
        },
        "Done": {"Type": "Succeed"},
    },
}


def test_history_counts_each_state_each_loop_round_and_each_retry() -> None:
    (result,) = history_events("Machine", POLLING, {"${Poll}": ("max_polls", 100)})

    # ExecutionStarted/Succeeded 2; Start 5 + 2 failed attempts x 3; 100 rounds of
    # Wait 2 + Poll 5 + Choice 2; Succeed 2.
    assert result.value.startswith(f"at most {2 + 5 + 6 + 100 * 9 + 2:,} events")
    assert result.ok


def test_a_poll_loop_the_configuration_lets_run_too_long_breaches_the_history_quota() -> None:
    rounds = HISTORY_EVENTS // 9 + 1

    (result,) = history_events("Machine", POLLING, {"${Poll}": ("max_polls", rounds)})

    assert not result.ok


def test_a_loop_nothing_bounds_is_a_breach() -> None:
    (result,) = history_events("Machine", POLLING, {})

    assert not result.ok
    assert "nothing bounds the loop Done?, Poll, Wait" in result.value


def test_a_poll_loop_left_through_its_task_s_catch_ends_its_last_round_there() -> None:
    machine = {
        "StartAt": "Wait",
        "States": {
            **{k: v for k, v in POLLING["States"].items() if k in ("Wait", "Done")},
            "Poll": _task(
                "${Poll}", "Done?", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]
            ),
            "Done?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Fine"}],
                "Default": "Wait",
            },
            "Fine": {"Type": "Pass", "Next": "Done"},
            "Failed": {"Type": "Pass", "Next": "Lost"},
            "Lost": {"Type": "Pass", "Next": "Done"},
        },
    }

    (result,) = history_events("Machine", machine, {"${Poll}": ("max_polls", 100)})

    # Leaving through the Choice: 100 full rounds, then Fine 2 and Done 2. Leaving through
    # the poll's Catch: the 100th round ends at Poll (no Choice: 2 fewer), then Failed 2,
    # Lost 2 and Done 2 -- the longer way, by 2 events, not by a whole Choice more.
    assert result.value.startswith(f"at most {2 + 100 * 9 - 2 + 2 + 2 + 2:,} events")


def test_each_method_s_path_is_counted_on_its_own() -> None:
    machine = {
        "StartAt": "ByMethod",
        "States": {
            "ByMethod": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.service.method", "StringEquals": "rolling", "Next": "Short"}
                ],
                "Default": "Wait",
            },
            "Short": {"Type": "Succeed"},
            **POLLING["States"],
        },
    }

    bluegreen = history_events(
        "M", by_method(machine, "codedeploy-bluegreen"), {"${Poll}": ("n", 10)}
    )
    rolling = history_events("M", by_method(machine, "rolling"), {"${Poll}": ("n", 10)})

    assert bluegreen[0].value.startswith(f"at most {2 + 2 + 10 * 9 + 2:,} events")
    assert rolling[0].value.startswith(f"at most {2 + 2 + 2:,} events")


def test_a_callback_task_records_its_submission_too() -> None:
    machine = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "End": True,
            }
        },
    }

    (result,) = history_events("Machine", machine, {})

    assert result.value.startswith("at most 8 events")


# --- payload size (256 KiB) -----------------------------------------------------------------


def test_a_document_over_256_kib_breaches_the_payload_quota() -> None:
    results = payload_sizes({"small": {"a": "x"}, "large": {"a": "x" * PAYLOAD_BYTES}}, 0)

    assert [r.ok for r in results] == [True, False]


def test_the_largest_document_fills_every_section_of_the_execution_state() -> None:
    state = largest_documents()["execution document (DeploymentState)"]

    assert {"render", "approval", "scaling", "deployment", "probe", "rollback"} <= set(state)
    assert {"error", "cleanup_error", "notification_error", "failure"} <= set(state)


# --- the project ----------------------------------------------------------------------------

MANAGED_POLICIES = "IAM managed policies per role"


@pytest.fixture(scope="module")
def project() -> list[Result]:
    return check(Path(ROOT / "template.yaml"))


def test_the_project_stays_within_every_other_limit(project: list[Result]) -> None:
    breaches = [r for r in project if not r.ok and not r.quota.startswith(MANAGED_POLICIES)]

    assert breaches == []
    assert {r.quota.split(" (")[0] for r in project} >= {
        MANAGED_POLICIES,
        "IAM role policy size",
        "Lambda Timeout vs the worst case of one AWS call",
        "Lambda Timeout vs the largest probe request timeout the configuration accepts",
        "Step Functions execution history",
        "Step Functions payload size",
    }


def test_no_role_of_the_project_breaches_the_managed_policy_quota(project: list[Result]) -> None:
    assert [r.subject for r in project if not r.ok] == []


def test_the_functions_sdk_config_fits_the_shortest_timeout_in_the_template(
    project: list[Result],
) -> None:
    approval_api = _role(
        [r for r in project if r.quota.startswith("Lambda Timeout vs the worst")],
        "ApprovalApiFunction",
    )

    assert approval_api.ok
    assert sdk_worst_case_seconds(SDK_CONFIG) < 10
