"""IAM quotas on the roles of a (SAM-transformed) CloudFormation template."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from scripts.limits import Result

MANAGED_POLICIES_PER_ROLE = 10  # PoliciesPerRole, default quota (adjustable to 20)
ROLE_POLICY_SIZE = 10_240  # all inline policies of a role, in characters, whitespace excluded


def _most_values(node: Any) -> int:
    """How many list entries ``node`` can contribute, taking the larger branch of Fn::If."""
    if isinstance(node, dict) and "Fn::If" in node:
        _, when_true, when_false = node["Fn::If"]
        return max(_most_values(when_true), _most_values(when_false))
    if node == {"Ref": "AWS::NoValue"}:
        return 0
    return 1


def _attached_by_ref(resources: Mapping[str, Any], role: str, kind: str) -> list[str]:
    """Resources of ``kind`` whose ``Roles`` list names ``role``."""
    return [
        name
        for name, resource in resources.items()
        if resource.get("Type") == kind
        and {"Ref": role} in resource.get("Properties", {}).get("Roles", [])
    ]


def managed_policies_per_role(transformed: Mapping[str, Any]) -> list[Result]:
    resources = transformed.get("Resources", {})
    results = []
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        arns = resource.get("Properties", {}).get("ManagedPolicyArns", [])
        if isinstance(arns, dict):  # a whole-list Fn::If
            arns = [arns]
        direct = sum(_most_values(arn) for arn in arns)
        attached = _attached_by_ref(resources, name, "AWS::IAM::ManagedPolicy")
        count = direct + len(attached)
        results.append(
            Result(
                f"IAM managed policies per role (PoliciesPerRole, default quota "
                f"{MANAGED_POLICIES_PER_ROLE})",
                name,
                f"{count} ({direct} in ManagedPolicyArns, {len(attached)} attached by "
                f"AWS::IAM::ManagedPolicy)",
                count <= MANAGED_POLICIES_PER_ROLE,
            )
        )
    return results


# --- 2. inline policy size per role -----------------------------------------------------

# The longest value each pseudo parameter takes (partition aws-us-gov, a region such as
# ap-southeast-5, stack names of up to 128 characters).
PSEUDO_MAXIMA = {
    "AWS::Partition": 10,
    "AWS::Region": 14,
    "AWS::AccountId": 12,
    "AWS::StackName": 128,
    "AWS::StackId": 128 + 100,
    "AWS::URLSuffix": 16,
    "AWS::NoValue": 0,
}
# A resource's Ref or attribute (names, ARNs): 256 characters. A String parameter without
# MaxLength: 256 as well (the template should bound what goes into a policy).
UNBOUNDED = 256


def _parameter_length(parameters: Mapping[str, Any], name: str) -> int:
    declared = parameters.get(name, {})
    if "MaxLength" in declared:
        return int(declared["MaxLength"])
    return UNBOUNDED


def _sub_length(template: str, parameters: Mapping[str, Any], local: Mapping[str, Any]) -> int:
    """Length of a Fn::Sub string once every ``${...}`` takes its longest value."""
    length, rest = 0, template
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, _, rest = after.partition("}")
        length += len(before)
        if name.startswith("!"):  # ${!Literal}
            length += len(name) + 2
        elif name in local:
            length += longest_length(local[name], parameters)
        elif name in PSEUDO_MAXIMA:
            length += PSEUDO_MAXIMA[name]
        elif "." in name:
            length += UNBOUNDED
        else:
            length += _parameter_length(parameters, name) if name in parameters else UNBOUNDED
    return length + len(rest)


def longest_length(node: Any, parameters: Mapping[str, Any]) -> int:
    """Characters ``node`` takes in minified JSON, intrinsics at their longest values."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, argument),) = node.items()
        if key == "Ref":
            if argument in PSEUDO_MAXIMA:
                return PSEUDO_MAXIMA[argument] + 2
            if argument in parameters:
                return _parameter_length(parameters, argument) + 2
            return UNBOUNDED + 2
        if key == "Fn::GetAtt":
            return UNBOUNDED + 2
        if key == "Fn::Sub":
            template, local = (argument, {}) if isinstance(argument, str) else argument
            return _sub_length(template, parameters, local) + 2
        if key == "Fn::If":
            return max(longest_length(branch, parameters) for branch in argument[1:])
        if key == "Fn::Join":
            separator, values = argument
            if not isinstance(values, list):
                return UNBOUNDED + 2
            parts = [longest_length(v, parameters) - 2 for v in values]
            return sum(parts) + len(separator) * max(len(parts) - 1, 0) + 2
        if key.startswith("Fn::"):
            return UNBOUNDED + 2
    if isinstance(node, dict):
        inner = [len(json.dumps(k)) + 1 + longest_length(v, parameters) for k, v in node.items()]
        return sum(inner) + max(len(inner) - 1, 0) + 2
    if isinstance(node, list):
        items = [longest_length(v, parameters) for v in node]
        return sum(items) + max(len(items) - 1, 0) + 2
    return len(json.dumps(node, separators=(",", ":")))


def _either_branch(entry: Any) -> list[Any]:
    """An inline policy, or both policies an Fn::If may choose (the worst case counts both)."""
    if isinstance(entry, dict) and set(entry) == {"Fn::If"}:
        _, yes, no = entry["Fn::If"]
        return [p for p in (yes, no) if isinstance(p, dict) and "PolicyDocument" in p]
    return [entry]


def inline_policy_size(transformed: Mapping[str, Any]) -> list[Result]:
    resources = transformed.get("Resources", {})
    parameters = transformed.get("Parameters", {})
    results = []
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        documents = [
            policy["PolicyDocument"]
            for entry in resource.get("Properties", {}).get("Policies", [])
            for policy in _either_branch(entry)
        ]
        for policy in _attached_by_ref(resources, name, "AWS::IAM::Policy"):
            documents.append(resources[policy]["Properties"]["PolicyDocument"])
        size = sum(longest_length(d, parameters) for d in documents)
        results.append(
            Result(
                f"IAM role policy size (inline policies, whitespace excluded, quota "
                f"{ROLE_POLICY_SIZE:,} characters)",
                name,
                f"at most {size:,} characters in {len(documents)} inline policies",
                size <= ROLE_POLICY_SIZE,
            )
        )
    return results
