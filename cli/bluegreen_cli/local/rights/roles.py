"""Each principal's policies, as CloudFormation would attach them from ``template.yaml``.

The template is put through the SAM translator (offline, as ``sam validate`` does), so SAM
policy templates, connectors, ``Tracing`` and generated execution roles become the very
``AWS::IAM::Role``, ``AWS::IAM::ManagedPolicy`` and ``AWS::IAM::Policy`` resources a
deployment creates. Their documents are then resolved against the local account.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen_cli.local.intrinsics import (
    ACCOUNT_ID,
    NO_VALUE,
    PARTITION,
    REGION,
    TemplateError,
    load_template_text,
)
from bluegreen_cli.local.rights.aws_managed import AWS_MANAGED_POLICIES, managed_policy_name

Resolve = Callable[[Any], Any]

# IAM's default quota of managed policies attached to one role (PoliciesPerRole).
MANAGED_POLICIES_PER_ROLE = 10


@dataclass(frozen=True)
class PolicySource:
    """One policy attached to a role: where it comes from, and its resolved document."""

    kind: str  # "inline", "managed" (the template's own) or "aws-managed"
    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Role:
    logical_id: str
    arn: str
    policies: tuple[PolicySource, ...]

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def documents(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(p.document for p in self.policies)

    def describe(self) -> dict[str, Any]:
        """What the role may do, for ``/_local/app``."""
        return {
            "arn": self.arn,
            "policies": [
                {"kind": p.kind, "name": p.name, "statements": _statements(p.document)}
                for p in self.policies
            ],
        }


def _statements(document: Mapping[str, Any]) -> list[Any]:
    statements = document.get("Statement") or []
    return [statements] if isinstance(statements, Mapping) else list(statements)


# Pseudo parameters only: the translator needs a region; parameters stay Refs, resolved later.
_PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": PARTITION}


def _offline_policy_arns() -> dict[str, str]:
    """The translator looks managed policy names up in IAM; answered without AWS."""
    return {name: f"arn:aws:iam::aws:policy/{name}" for name in AWS_MANAGED_POLICIES}


def sam_transform(template_path: Path) -> dict[str, Any]:
    """The template as CloudFormation receives it after ``Transform: AWS::Serverless``."""
    return sam_transform_text(template_path.read_text(encoding="utf-8"), template_path.name)


def sam_transform_text(text: str, name: str = "template.yaml") -> dict[str, Any]:
    """``sam_transform`` of a template's text (offline: no AWS call, no upload)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = load_template_text(text)
    # Local paths stand in for the S3 locations that `sam package` would upload.
    sections = [r.get("Properties") or {} for r in (template.get("Resources") or {}).values()]
    sections += list((template.get("Globals") or {}).values())
    for properties in sections:
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://local/{properties[key]}"
    try:
        translator = Translator(
            None, Parser(), boto_session=boto3.session.Session(region_name=REGION)
        )
        transformed: dict[str, Any] = translator.translate(
            template, dict(_PSEUDO), get_managed_policy_map=_offline_policy_arns
        )
    except Exception as e:  # the translator's own errors name the resource and property
        raise TemplateError(f"SAM transform of {name} failed: {e}") from e
    return transformed


def _ref_target(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` names, if the value is one."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and isinstance(argument, str):
            return argument
        if key == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".")
            return str(parts[0])
    return None


def principal_roles(transformed: Mapping[str, Any]) -> dict[str, str]:
    """Function and state machine logical ids -> the logical id of the role they run as."""
    found: dict[str, str] = {}
    for logical_id, resource in (transformed.get("Resources") or {}).items():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        role = None
        if kind == "AWS::Lambda::Function":
            role = _ref_target(properties.get("Role"))
        elif kind == "AWS::StepFunctions::StateMachine":
            role = _ref_target(properties.get("RoleArn"))
        if role is not None:
            found[str(logical_id)] = role
    return found


def compile_roles(transformed: Mapping[str, Any], resolve: Resolve) -> dict[str, Role]:
    """Every ``AWS::IAM::Role`` of the transformed template with all its policies resolved."""
    resources: Mapping[str, Any] = transformed.get("Resources") or {}
    # The template's own managed policies, by the ARN a Ref to them resolves to.
    # (Connectors' generated policies name their roles instead, and are not created apart.)
    template_policies: dict[str, str] = {}
    for policy_id, policy in resources.items():
        if policy.get("Type") == "AWS::IAM::ManagedPolicy":
            try:
                template_policies[str(resolve({"Ref": policy_id}))] = str(policy_id)
            except TemplateError:
                continue
    roles: dict[str, Role] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        properties = resource.get("Properties") or {}
        policies: list[PolicySource] = []
        # Resolved as a whole first: an Fn::If may leave a policy out (AWS::NoValue).
        for inline in resolve(properties.get("Policies") or []):
            if inline is NO_VALUE:
                continue
            policies.append(
                PolicySource(
                    "inline",
                    str(inline["PolicyName"]),
                    _document(inline["PolicyDocument"], resolve),
                )
            )
        for arn in _listed(resolve(properties.get("ManagedPolicyArns") or [])):
            policies.append(_managed(arn, template_policies, resources, resolve))
        # Connectors and AWS::IAM::Policy resources attach themselves to the role.
        for other_id, other in resources.items():
            if other.get("Type") not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                continue
            attached = other.get("Properties") or {}
            if {"Ref": logical_id} in (attached.get("Roles") or []):
                kind = "managed" if other["Type"] == "AWS::IAM::ManagedPolicy" else "inline"
                policies.append(
                    PolicySource(
                        kind, str(other_id), _document(attached["PolicyDocument"], resolve)
                    )
                )
        arn = str(resolve({"Fn::GetAtt": [logical_id, "Arn"]}))
        roles[str(logical_id)] = Role(logical_id=str(logical_id), arn=arn, policies=tuple(policies))
    return roles


def check_managed_policy_quota(roles: Iterable[Role]) -> None:
    """Refuse what CloudFormation cannot create: a role past IAM's PoliciesPerRole quota."""
    for role in roles:
        managed = [p.name for p in role.policies if p.kind != "inline"]
        if len(managed) > MANAGED_POLICIES_PER_ROLE:
            raise TemplateError(
                f"{role.logical_id}: Cannot exceed quota for PoliciesPerRole: "
                f"{MANAGED_POLICIES_PER_ROLE} ({len(managed)} managed policies: "
                f"{', '.join(managed)})"
            )


def _listed(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v is not NO_VALUE and v not in (None, "")]
    return [] if value is NO_VALUE or value in (None, "") else [str(value)]


def _managed(
    arn: str, template_policies: Mapping[str, str], resources: Mapping[str, Any], resolve: Resolve
) -> PolicySource:
    if arn in template_policies:
        policy_id = template_policies[arn]
        properties = resources[policy_id].get("Properties") or {}
        return PolicySource("managed", policy_id, _document(properties["PolicyDocument"], resolve))
    name = managed_policy_name(arn)
    if name not in AWS_MANAGED_POLICIES:
        raise TemplateError(
            f"managed policy {arn} has no local copy: the local stack cannot tell what it "
            "allows (add its document to rights/aws_managed.py)"
        )
    return PolicySource("aws-managed", name, AWS_MANAGED_POLICIES[name])


def _document(document: Any, resolve: Resolve) -> Mapping[str, Any]:
    resolved = resolve(copy.deepcopy(document))
    if isinstance(resolved, str):
        resolved = json.loads(resolved)
    if not isinstance(resolved, Mapping):
        raise TemplateError(f"a policy document must be an object, not {type(resolved).__name__}")
    return resolved
