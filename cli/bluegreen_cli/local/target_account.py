"""The role a target account deploys (``deploy/target-account-role.yaml``), made locally.

The shipped template is evaluated with the local template machinery (its parameters, its
conditions, its intrinsic functions, ``AWS::AccountId`` being the target account's) and
the role it describes is created through IAM in that account, as CloudFormation would
create it there: its name, its trust policy, its inline policies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen_cli.local.intrinsics import Resolver, TemplateError, parameter_values
from bluegreen_cli.local.template import read_template

# Where the template is kept, from the project's root (next to template.yaml).
TARGET_ROLE_TEMPLATE = Path("deploy") / "target-account-role.yaml"
# This checkout's root: its copy serves a project that keeps only the app's own files.
_CHECKOUT = Path(__file__).resolve().parents[3]


def role_template(project_root: Path) -> Path:
    """The project's target-account role template, else this checkout's."""
    own = project_root / TARGET_ROLE_TEMPLATE
    return own if own.is_file() else _CHECKOUT / TARGET_ROLE_TEMPLATE


@dataclass(frozen=True)
class TargetRole:
    """The role the template describes, resolved for one account."""

    name: str
    trust: Mapping[str, Any]
    policies: Mapping[str, Mapping[str, Any]]  # inline policy name -> document


def target_role(template_path: Path, account_id: str, parameters: Mapping[str, Any]) -> TargetRole:
    """The template's role as a stack in ``account_id`` with ``parameters`` would have it."""
    template = read_template(template_path)
    resolver = Resolver(
        parameters=parameter_values(template.get("Parameters") or {}, dict(parameters)),
        ref=_no_resource,
        get_att=_no_attribute,
        conditions=template.get("Conditions") or {},
        stack_name="bluegreen-target-account",
    )
    resolver.pseudo["AWS::AccountId"] = account_id
    roles = [
        resource
        for resource in (template.get("Resources") or {}).values()
        if resource.get("Type") == "AWS::IAM::Role"
    ]
    if len(roles) != 1:
        raise TemplateError(
            f"{template_path.name}: expected one AWS::IAM::Role, found {len(roles)}"
        )
    properties = resolver.resolve(roles[0].get("Properties") or {})
    return TargetRole(
        name=str(properties["RoleName"]),
        trust=properties["AssumeRolePolicyDocument"],
        policies={
            str(policy["PolicyName"]): policy["PolicyDocument"]
            for policy in properties.get("Policies") or []
        },
    )


def create_target_role(iam: Any, role: TargetRole) -> str:
    """Create ``role`` through ``iam`` (a client of the target account); its ARN."""
    created = iam.create_role(
        RoleName=role.name,
        AssumeRolePolicyDocument=json.dumps(role.trust),
        Description="bluegreen deploys the listed ECS services of this account through this role.",
        MaxSessionDuration=3600,
    )
    for name, document in role.policies.items():
        iam.put_role_policy(
            RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(document)
        )
    return str(created["Role"]["Arn"])


def _no_resource(name: str) -> Any:
    raise KeyError(name)


def _no_attribute(name: str, attribute: str) -> Any:
    raise KeyError(f"{name}.{attribute}")
