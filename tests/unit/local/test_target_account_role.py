"""The role each target account deploys (deploy/target-account-role.yaml), as resolved.

It trusts only the app's account (with sts:ExternalId when one is set), and may do exactly
what the app's steps do to a target: every ECS, CodeDeploy, Application Auto Scaling and
iam:PassRole right that the functions acting on a target hold in template.yaml, plus what
the operators' CLI reads and the rolling method's UpdateService, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from bluegreen_cli.local.rights.policy import Need, action_matches, evaluate
from bluegreen_cli.local.rights.table import grants
from bluegreen_cli.local.target_account import (
    TARGET_ROLE_TEMPLATE,
    TargetRole,
    role_template,
    target_role,
)

from tests.unit.local.localstack_support import PROJECT_ROOT

APP = "123456789012"
DEV = "111111111111"
EXECUTION_ROLE = f"arn:aws:iam::{DEV}:role/demo-web-task-execution"
SAMPLE = {
    "AppAccountId": APP,
    "Services": "demo-dev/web",
    "PassRoleArns": EXECUTION_ROLE,
    "CodeDeployApplications": "demo-web",
}
# What the target's services are asked besides the steps: by the operators' CLI (show,
# history, following an execution's traffic), which assumes the same role.
CLI_ACTIONS = {
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "codedeploy:BatchGetDeployments",
    "codedeploy:ListDeploymentTargets",
    "codedeploy:GetDeploymentTarget",
}
# The rolling method's UpdateService (and its reads) on the service.
ROLLING_ACTIONS = {"ecs:UpdateService", "ecs:DescribeServices"}
TARGET_SERVICES = ("ecs:", "codedeploy:", "application-autoscaling:", "iam:PassRole")


def resolved(**parameters: str) -> TargetRole:
    return target_role(PROJECT_ROOT / TARGET_ROLE_TEMPLATE, DEV, {**SAMPLE, **parameters})


def statements(role: TargetRole) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for document in role.policies.values():
        listed = document["Statement"]
        found += [listed] if isinstance(listed, Mapping) else listed
    return found


def allowed_actions(role: TargetRole) -> set[str]:
    found: set[str] = set()
    for statement in statements(role):
        actions = statement["Action"]
        found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def steps_target_actions() -> set[str]:
    """What the app's functions that act on a target (those that may assume its role) may
    do there, per template.yaml."""
    rows = grants(PROJECT_ROOT / "template.yaml")
    acting = {g.principal for g in rows if "sts:AssumeRole" in g.actions}
    assert acting >= {"RenderFunction", "CreateDeploymentFunction", "JanitorFunction"}
    return {
        action
        for g in rows
        if g.principal in acting
        for action in g.actions
        if action.startswith(TARGET_SERVICES)
    }


def test_it_trusts_only_the_apps_account() -> None:
    role = resolved()
    assert role.name == "bluegreen-deploy"
    assert role.trust["Statement"] == [
        {
            "Sid": "TrustTheAppAccount",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{APP}:root"},
            "Action": "sts:AssumeRole",
        }
    ]


def test_with_an_external_id_its_trust_asks_for_it() -> None:
    (statement,) = resolved(ExternalId="tenant-42").trust["Statement"]
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "tenant-42"}}


def test_it_may_do_what_the_steps_cli_and_rolling_do_to_a_target() -> None:
    wanted = steps_target_actions() | CLI_ACTIONS | ROLLING_ACTIONS
    granted = allowed_actions(resolved())
    missing = {a for a in wanted if not any(action_matches(g, a) for g in granted)}
    assert missing == set()


def test_it_may_do_nothing_else() -> None:
    """Least privilege: the steps' actions (and the alarms Application Auto Scaling's
    RegisterScalableTarget is authorized against with the caller's permissions)."""
    wanted = steps_target_actions() | CLI_ACTIONS | ROLLING_ACTIONS
    alarms = {"cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"}
    assert allowed_actions(resolved()) - wanted == alarms
    assert all("*" not in action for action in allowed_actions(resolved()))


@pytest.mark.parametrize(
    ("service", "allowed"),
    [
        (f"arn:aws:ecs:us-east-1:{DEV}:service/demo-dev/web", True),
        (f"arn:aws:ecs:eu-west-1:{DEV}:service/demo-dev/web", True),  # any of its regions
        (f"arn:aws:ecs:us-east-1:{DEV}:service/demo-dev/worker", False),
        (f"arn:aws:ecs:us-east-1:{DEV}:service/demo/web", False),
    ],
)
def test_services_are_scoped_by_the_names_it_lists(service: str, allowed: bool) -> None:
    documents = list(resolved().policies.values())
    assert evaluate(documents, Need("ecs:UpdateService", service)).allowed is allowed


def test_task_roles_are_passed_only_to_ecs_tasks() -> None:
    documents = list(resolved().policies.values())
    to_ecs = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    assert evaluate(documents, Need("iam:PassRole", EXECUTION_ROLE, to_ecs)).allowed
    assert not evaluate(documents, Need("iam:PassRole", EXECUTION_ROLE)).allowed
    other = f"arn:aws:iam::{DEV}:role/admin"
    assert not evaluate(documents, Need("iam:PassRole", other, to_ecs)).allowed


def test_rolling_only_accounts_get_no_codedeploy_right_and_no_role_to_pass() -> None:
    role = resolved(CodeDeployApplications="", PassRoleArns="")
    granted = allowed_actions(role)
    assert not any(a.startswith("codedeploy:") for a in granted)
    assert "iam:PassRole" not in granted
    assert {"ecs:UpdateService", "ecs:RegisterTaskDefinition"} <= granted


def test_codedeploy_rights_cover_the_listed_applications_groups_only() -> None:
    documents = list(resolved(CodeDeployApplications="demo-web,api").policies.values())
    group = f"arn:aws:codedeploy:us-east-1:{DEV}:deploymentgroup:"
    need = "codedeploy:CreateDeployment"
    assert evaluate(documents, Need(need, group + "demo-web/demo-web")).allowed
    assert evaluate(documents, Need(need, group + "api/blue-green")).allowed
    assert not evaluate(documents, Need(need, group + "billing/billing")).allowed


def test_a_project_without_its_own_copy_is_served_with_this_checkouts(tmp_path: Path) -> None:
    """`serve --project` of a copy holding only the app's files still has the role."""
    assert role_template(tmp_path) == PROJECT_ROOT / TARGET_ROLE_TEMPLATE
    own = tmp_path / TARGET_ROLE_TEMPLATE
    own.parent.mkdir()
    own.write_text((PROJECT_ROOT / TARGET_ROLE_TEMPLATE).read_text())
    assert role_template(tmp_path) == own
