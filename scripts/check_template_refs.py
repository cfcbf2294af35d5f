"""Cross-checks of template.yaml that `sam validate --lint` and cfn-lint leave out.

1. Every Ref, Fn::GetAtt, ${...} in Fn::Sub, Fn::If condition and DependsOn of the
   SAM-transformed template names something that exists (a typo in a GetAtt inside
   DefinitionSubstitutions passes both linters and only fails at deploy time).
2. The placeholders of each state machine's DefinitionUri file and its
   DefinitionSubstitutions match one to one: the ASL and the template are written apart.
3. Each function's CodeUri holds the module and function its Handler names.

Runs with the project's interpreter, which has the SAM translator:
    .venv/bin/python scripts/check_template_refs.py [template.yaml]
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, intrinsic name, argument) for every intrinsic function under ``node``."""
    if isinstance(node, dict):
        if len(node) == 1:
            ((key, value),) = node.items()
            if key in ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If"):
                yield path, key, value
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def _sub_names(argument: Any) -> tuple[list[str], set[str]]:
    """Names a Fn::Sub refers to, and the variables its own map defines."""
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
        return _SUB_VARIABLE.findall(str(argument[0])), set(argument[1])
    return _SUB_VARIABLE.findall(str(argument)), set()


def check_references(transformed: dict[str, Any]) -> list[str]:
    resources: dict[str, Any] = transformed.get("Resources", {})
    known = set(resources) | set(transformed.get("Parameters", {})) | PSEUDO_PARAMETERS
    conditions = set(transformed.get("Conditions", {}))
    problems: list[str] = []

    for path, function, argument in _walk(transformed, ""):
        if function == "Ref" and argument not in known:
            problems.append(f"{path}: Ref to unknown {argument!r}")
        elif function == "Fn::GetAtt":
            target = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
            if target not in resources:
                problems.append(f"{path}: GetAtt of unknown resource {target!r}")
        elif function == "Fn::Sub":
            names, local = _sub_names(argument)
            for name in names:
                base = name.split(".")[0]
                if name not in local and base not in known:
                    problems.append(f"{path}: Sub of unknown ${{{name}}}")
        elif function == "Fn::If" and (
            not isinstance(argument, list) or argument[0] not in conditions
        ):
            problems.append(f"{path}: Fn::If on unknown condition {argument!r}")

    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            if target not in resources:
                problems.append(f"/Resources/{name}/DependsOn: unknown resource {target!r}")
        condition = resource.get("Condition")
        if condition is not None and condition not in conditions:
            problems.append(f"/Resources/{name}/Condition: unknown condition {condition!r}")
    return problems


def check_substitutions(template: dict[str, Any], base: Path) -> list[str]:
    problems: list[str] = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::StateMachine":
            continue
        properties = resource.get("Properties", {})
        uri = properties.get("DefinitionUri")
        if not isinstance(uri, str) or uri.startswith("s3://"):
            continue
        definition = base / uri
        if not definition.is_file():
            problems.append(f"{name}: DefinitionUri {uri} does not exist")
            continue
        used = set(_PLACEHOLDER.findall(definition.read_text(encoding="utf-8")))
        given = set(properties.get("DefinitionSubstitutions", {}))
        for missing in sorted(used - given):
            problems.append(f"{name}: {uri} uses ${{{missing}}}, not in DefinitionSubstitutions")
        for unused in sorted(given - used):
            problems.append(f"{name}: DefinitionSubstitutions {unused} is not used by {uri}")
    return problems


def _top_level_names(source: Path) -> set[str]:
    """Names a module binds at its top level (def, class, assignment, import)."""
    names: set[str] = set()
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def check_handlers(template: dict[str, Any], base: Path) -> list[str]:
    defaults = template.get("Globals", {}).get("Function", {})
    problems: list[str] = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        code_uri, handler = properties.get("CodeUri"), properties.get("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            continue
        module, _, function = handler.rpartition(".")
        source = base / code_uri / (module.replace(".", "/") + ".py")
        if not source.is_file():
            problems.append(f"{name}: {source.relative_to(base)} does not exist")
        elif function not in _top_level_names(source):
            problems.append(f"{name}: {source.relative_to(base)} defines no {function}()")
    return problems


def main(argv: list[str]) -> int:
    from bluegreen_cli.local.rights.roles import sam_transform
    from samtranslator.yaml_helper import yaml_parse

    template_path = Path(argv[1] if len(argv) > 1 else "template.yaml").resolve()
    base = template_path.parent
    template = yaml_parse(template_path.read_text(encoding="utf-8"))
    # The same transform the local stack builds its roles from.
    transformed = sam_transform(template_path)

    problems = [
        *check_references(transformed),
        *check_substitutions(template, base),
        *check_handlers(template, base),
    ]
    for problem in problems:
        print(f"{template_path.name}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"{template_path.name}: references, state machine substitutions and handlers agree "
        f"({len(transformed.get('Resources', {}))} resources after the SAM transform)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
