"""What ECS's API refuses of a RegisterTaskDefinition request before it is sent.

The SDK checks every request against the service's model (field names, types, lengths,
ranges) and sends none that fails: botocore's own validator, on its own model of ECS,
tells the configuration's reader the same before any execution starts. No call is made.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

_TYPES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean (true or false)",
    "list": "a list",
    "tuple": "a list",
    "dict": "a table",
    "datetime.datetime": "a time",
    "decimal.Decimal": "a number",
}
_LINE = re.compile(r"^(?P<what>.+?) (?:for parameter|in) (?P<path>[^\s,:]+)[,:] (?P<rest>.*)$")
_UNKNOWN = re.compile(r'^"(?P<name>[^"]+)", must be one of: ')
_MISSING = re.compile(r'^"(?P<name>[^"]+)"$')
_TYPE = re.compile(
    r"^value: (?P<value>.*), type: <class '(?P<got>[\w.]+)'>, valid types: (?P<valid>.*)$"
)


@cache
def _register_input() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def register_problems(request: dict[str, Any]) -> list[tuple[str, str]]:
    """Each problem the SDK finds in ``request`` (RegisterTaskDefinition's arguments), at
    its path (containers by their name: ``containerDefinitions[web].cpu``)."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(request, _register_input())
    if not report.has_errors():
        return []
    names = _container_names(request)
    return [_problem(line, names) for line in report.generate_report().splitlines() if line]


def _container_names(request: dict[str, Any]) -> dict[str, str]:
    listed = request.get("containerDefinitions")
    found = {}
    for index, container in enumerate(listed if isinstance(listed, list) else []):
        name = container.get("name") if isinstance(container, dict) else None
        if isinstance(name, str) and name:
            found[f"containerDefinitions[{index}]"] = f"containerDefinitions[{name}]"
    return found


def _named(path: str, names: dict[str, str]) -> str:
    path = "" if path == "input" else path.lstrip(".")
    head = re.match(r"^containerDefinitions\[\d+\]", path)
    return names.get(head.group(0), head.group(0)) + path[head.end() :] if head else path


def _problem(line: str, names: dict[str, str]) -> tuple[str, str]:
    parsed = _LINE.match(line)
    if parsed is None:
        return "", line
    path, rest = _named(parsed["path"], names), parsed["rest"]
    if (unknown := _UNKNOWN.match(rest)) is not None:
        return _under(path, unknown["name"]), "not a field RegisterTaskDefinition takes"
    if (missing := _MISSING.match(rest)) is not None:
        return _under(path, missing["name"]), "required"
    if (typed := _TYPE.match(rest)) is not None:
        valid = [
            t.strip().removeprefix("<class '").removesuffix("'>") for t in typed["valid"].split(",")
        ]
        wanted = " or ".join(dict.fromkeys(_TYPES.get(t, t) for t in valid))
        got = _TYPES.get(typed["got"], typed["got"])
        return path, f"must be {wanted}, not {got} (got {typed['value'][:80]})"
    return path, f"{parsed['what'][0].lower()}{parsed['what'][1:]}: {rest}"


def _under(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
