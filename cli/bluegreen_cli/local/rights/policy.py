"""IAM's evaluation of identity-based policies, for one principal and one request.

What the product's policies use, evaluated as the IAM User Guide ("Policy evaluation logic",
"IAM JSON policy elements") describes it: an explicit ``Deny`` wins, then any ``Allow``,
else the request is implicitly denied. ``Action``/``NotAction`` match case-insensitively with
``*`` and ``?``; ``Resource``/``NotResource`` match each of the ARN's six parts on its own
(a wildcard does not cross from one part into the next, but the resource part keeps its own
colons and slashes); ``Condition`` operators with their ``IfExists`` forms and the
``ForAnyValue:``/``ForAllValues:`` set qualifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ContextValue = str | Sequence[str]


@dataclass(frozen=True)
class Need:
    """One authorization a request needs: an action on a resource, with its context keys."""

    action: str
    resource: str = "*"
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # "allow", "explicit deny" or "implicit deny" (no statement allows it)
    reason: str
    statement: str | None = None  # the Sid (or index) that decided, when one did


def evaluate(documents: Iterable[Mapping[str, Any]], need: Need) -> Decision:
    """The decision of a principal's policy documents on one need."""
    allowing: str | None = None
    for document in documents:
        for index, statement in enumerate(_statements(document)):
            if not _applies(statement, need):
                continue
            sid = str(statement.get("Sid") or f"#{index}")
            if str(statement.get("Effect")) == "Deny":
                return Decision(False, "explicit deny", sid)
            if str(statement.get("Effect")) == "Allow" and allowing is None:
                allowing = sid
    if allowing is not None:
        return Decision(True, "allow", allowing)
    return Decision(False, "implicit deny")


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement") or []
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _applies(statement: Mapping[str, Any], need: Need) -> bool:
    if "Action" in statement:
        if not any(action_matches(p, need.action) for p in _listed(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, need.action) for p in _listed(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(resource_matches(p, need.resource) for p in _listed(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(resource_matches(p, need.resource) for p in _listed(statement["NotResource"])):
            return False
    else:
        return False
    return conditions_hold(statement.get("Condition") or {}, need.context)


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # fnmatch would also read [...] as a character class; IAM knows only * and ?.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return glob_matches(pattern, action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    if resource == "*":
        # A request on no particular resource is allowed only by Resource "*".
        return False
    wanted, actual = pattern.split(":", 5), resource.split(":", 5)
    if len(wanted) != len(actual):
        return False
    return all(glob_matches(p, a) for p, a in zip(wanted, actual, strict=True))


# -- a role's trust policy ---------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who asks to assume a role: its account, and the ARNs a trust policy may name it by
    (a role's ARN and its session's; the account root for the account's administrator)."""

    account: str
    arns: tuple[str, ...]


def trusts(document: Mapping[str, Any], caller: Caller, need: Need) -> Decision:
    """A role's trust policy (a resource-based policy) on ``caller`` asking for
    ``need.action``: a statement applies when its Principal names the caller, its Action
    the request's, and its Condition holds; an explicit Deny wins, else any Allow.

    ``{"AWS": "<account id>"}`` and ``{"AWS": "arn:...:iam::<account id>:root"}`` name
    every principal of that account (its own policies then decide), ``"*"`` anyone; a
    ``Service`` or ``Federated`` principal names no caller of the APIs. ``NotPrincipal``
    (which AWS advises against in trust policies) is not evaluated: such a statement
    applies to nobody here.
    """
    allowing: str | None = None
    for index, statement in enumerate(_statements(document)):
        if "Principal" not in statement or not _names(statement["Principal"], caller):
            continue
        actions = _listed(statement.get("Action"))
        if not any(action_matches(p, need.action) for p in actions):
            continue
        if not conditions_hold(statement.get("Condition") or {}, need.context):
            continue
        sid = str(statement.get("Sid") or f"#{index}")
        if str(statement.get("Effect")) == "Deny":
            return Decision(False, "explicit deny", sid)
        if str(statement.get("Effect")) == "Allow" and allowing is None:
            allowing = sid
    if allowing is not None:
        return Decision(True, "allow", allowing)
    return Decision(False, "not trusted")


def _names(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for value in _listed(principal.get("AWS")):
        if value == "*" or value in caller.arns:
            return True
        account = value if value.isdigit() else _root_account(value)
        if account == caller.account:
            return True
    return False


def _root_account(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
        return parts[4]
    return None


# -- conditions ---------------------------------------------------------------------------


def _string_equals(policy: str, value: str) -> bool:
    return policy == value


def _string_equals_ignore_case(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _string_like(policy: str, value: str) -> bool:
    return glob_matches(policy, value)


def _arn_like(policy: str, value: str) -> bool:
    return resource_matches(policy, value) if policy != "*" else True


def _bool(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _numeric(compare: Any) -> Any:
    def check(policy: str, value: str) -> bool:
        try:
            return bool(compare(float(value), float(policy)))
        except ValueError:
            return False

    return check


# Operator -> (value test, negated). A negated operator holds when no value matches.
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric(lambda a, b: a == b), False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False),
}


class UnsupportedCondition(ValueError):
    """A condition operator this evaluator does not know (refused, never guessed)."""


def conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    """Every operator block and every key in it must hold (AND); values of one key are OR."""
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, block in conditions.items():
        for key, policy_values in dict(block).items():
            present = lowered.get(str(key).lower())
            if not _condition_holds(str(operator), _listed(policy_values), present):
                return False
    return True


def _condition_holds(operator: str, policy_values: list[str], present: Any) -> bool:
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if operator == "Null":
        # "Null": "true" holds when the key is absent.
        return any((present is None) == (v.lower() == "true") for v in policy_values)
    if operator not in _OPERATORS:
        raise UnsupportedCondition(f"condition operator {operator!r} is not supported locally")
    test, negated = _OPERATORS[operator]
    if present is None:
        # IAM: a missing key fails a condition, except a negated one or an ...IfExists.
        return if_exists or negated
    values = [present] if isinstance(present, str) else [str(v) for v in present]

    def matches(value: str) -> bool:
        return any(test(policy, value) for policy in policy_values)

    if qualifier == "ForAllValues":
        outcome = all(matches(v) for v in values)
    else:  # ForAnyValue, or a single-valued key
        outcome = any(matches(v) for v in values)
    return not outcome if negated else outcome


__all__ = [
    "Caller",
    "Decision",
    "Need",
    "UnsupportedCondition",
    "action_matches",
    "conditions_hold",
    "evaluate",
    "resource_matches",
    "trusts",
]
