"""What each function may do, read from the template as the deployed stack has it.

The same roles the local stack enforces (``roles.py``), resolved symbolically: account,
region and the template's own resources appear as ``<account>``, ``<region>`` and
``<LogicalId>``, so the table holds for any installation. The README's table is this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen_cli.local.intrinsics import Resolver, load_template_text, parameter_values
from bluegreen_cli.local.rights.roles import compile_roles, principal_roles, sam_transform

# The policies every function gets from SAM (logs, and X-Ray with active tracing).
BASELINE = frozenset({"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"})


@dataclass(frozen=True)
class Grant:
    principal: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: str = ""


def _listed(value: Any) -> tuple[str, ...]:
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value or ())


def grants(template_path: Path) -> list[Grant]:
    """Every statement of every function's and state machine's role, in template order."""
    template = load_template_text(template_path.read_text(encoding="utf-8"))
    declared = template.get("Parameters") or {}
    # Optional features shown as configured: a named Slack secret, the sender address, the
    # roles of other accounts to deploy through.
    shown = {
        name: f"<{name}>"
        for name in declared
        if name
        in ("SlackBotTokenSecretName", "SlackSigningSecretName", "SenderEmail", "TargetRoleArns")
    }
    resolver = Resolver(
        parameters=parameter_values(declared, shown),
        ref=lambda name: f"<{name}>",
        get_att=lambda name, attribute: f"<{name}.{attribute}>",
        conditions=template.get("Conditions") or {},
    )
    resolver.pseudo.update(
        {"AWS::Region": "<region>", "AWS::AccountId": "<account>", "AWS::StackName": "<stack>"}
    )
    transformed = sam_transform(template_path)
    roles = compile_roles(transformed, resolver.resolve)
    found: list[Grant] = []
    for principal, role_id in principal_roles(transformed).items():
        for policy in roles[role_id].policies:
            if policy.name in BASELINE:
                continue
            statements = policy.document.get("Statement") or []
            for statement in [statements] if isinstance(statements, dict) else statements:
                condition = ", ".join(
                    f"{key} {operator} {', '.join(_listed(value))}"
                    for operator, block in (statement.get("Condition") or {}).items()
                    for key, value in block.items()
                )
                found.append(
                    Grant(
                        principal,
                        _listed(statement.get("Action")),
                        _listed(statement.get("Resource")),
                        condition,
                    )
                )
    return found


def markdown(rows: list[Grant]) -> str:
    lines = ["| Function | May | On | When |", "|---|---|---|---|"]
    for grant in rows:
        actions = "<br>".join(f"`{a}`" for a in grant.actions)
        resources = "<br>".join(f"`{r}`" for r in grant.resources)
        when = f"`{grant.condition}`" if grant.condition else ""
        lines.append(f"| {grant.principal} | {actions} | {resources} | {when} |")
    return "\n".join(lines) + "\n"
