"""CloudFormation template text as data, and its intrinsic functions resolved locally.

The YAML loader keeps short-form tags (``!Ref X``, ``!GetAtt A.B``, ``!Sub ...``) as the
long-form dictionaries CloudFormation itself works with (``{"Ref": "X"}``,
``{"Fn::GetAtt": ["A", "B"]}``), so one resolver handles both spellings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
URL_SUFFIX = "amazonaws.com"
PARTITION = "aws"


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve or create."""


class _NoValue:
    """``AWS::NoValue``: the property it stands for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


# -- loading ---------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form tags."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise TemplateError(f"unsupported node for !{tag_suffix}")
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # "Resource.Attribute" (the attribute itself may contain dots, e.g. Endpoint.Address)
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template_text(text: str) -> dict[str, Any]:
    """Parse a template (YAML or JSON, JSON being YAML) into plain data."""
    document = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict):
        raise TemplateError("a template must be a mapping at its top level")
    return document


# -- references ------------------------------------------------------------------------


def _sub_parts(template: str) -> Iterator[tuple[str, str | None]]:
    """Split a Fn::Sub string into (literal, variable-or-None) pieces.

    ``${!Literal}`` stands for the text ``${Literal}``.
    """
    position = 0
    for match in re.finditer(r"\$\{([^}]*)\}", template):
        literal = template[position : match.start()]
        name = match.group(1)
        if name.startswith("!"):
            yield literal + "${" + name[1:] + "}", None
        else:
            yield literal, name.strip()
        position = match.end()
    yield template[position:], None


def references(value: Any) -> set[str]:
    """Every name a piece of template refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                return {argument}
            if key == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) else str(argument)
                return {target.split(".")[0]}
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                for _, name in _sub_parts(text):
                    if name and name not in variables:
                        found.add(name.split(".")[0])
                return found | references(variables)
        for item in value.values():
            found |= references(item)
    return found


# -- resolution ------------------------------------------------------------------------

RefLookup = Callable[[str], Any]
AttLookup = Callable[[str, str], Any]


class Resolver:
    """Resolves intrinsic functions against parameters, pseudo parameters and resources.

    ``ref`` and ``get_att`` answer for resources (raising ``KeyError`` when unknown), so the
    caller decides what a resource's Ref is locally.
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        ref: RefLookup,
        get_att: AttLookup,
        conditions: Mapping[str, Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
        stack_name: str = "bluegreen",
        sub_ref: RefLookup | None = None,
    ) -> None:
        self.parameters = dict(parameters)
        self._ref = ref
        self._get_att = get_att
        self._sub_ref = sub_ref or ref
        self._condition_definitions = dict(conditions or {})
        self._condition_values: dict[str, bool] = {}
        self._mappings = dict(mappings or {})
        self.pseudo: dict[str, Any] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::Partition": PARTITION,
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/"
                "00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    # conditions

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._condition_definitions:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_values[name] = bool(self.resolve(self._condition_definitions[name]))
        return self._condition_values[name]

    # the resolver proper

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated; NO_VALUE where AWS::NoValue."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._fn_ref,
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::If": self._fn_if,
            "Fn::Equals": self._fn_equals,
            "Fn::Not": lambda a: not self._condition_operand(a[0]),
            "Fn::And": lambda a: all(self._condition_operand(x) for x in a),
            "Fn::Or": lambda a: any(self._condition_operand(x) for x in a),
            "Fn::Join": self._fn_join,
            "Fn::Select": self._fn_select,
            "Fn::Split": self._fn_split,
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::Base64": self._fn_base64,
            "Fn::GetAZs": lambda _a: [f"{REGION}{zone}" for zone in "abcdef"],
            "Fn::ImportValue": self._fn_import_value,
        }

    def _condition_operand(self, operand: Any) -> bool:
        # {"Condition": name} is only meaningful inside Fn::And/Or/Not (a property named
        # "Condition", e.g. in an IAM statement, must stay data).
        if isinstance(operand, dict) and set(operand) == {"Condition"}:
            return self.condition(str(operand["Condition"]))
        return self._truth(self.resolve(operand))

    def _truth(self, value: Any) -> bool:
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        try:
            return self._ref(name)
        except KeyError:
            raise TemplateError(f"Ref to unknown or not yet created {name!r}") from None

    def _fn_ref(self, argument: Any) -> Any:
        return self.ref(str(self.resolve(argument)))

    def _fn_get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            resource, _, attribute = argument.partition(".")
        else:
            resource, attribute = (str(x) for x in self.resolve(argument))
        try:
            return self._get_att(resource, attribute)
        except KeyError:
            raise TemplateError(f"GetAtt {resource}.{attribute} is not available locally") from None

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, raw_variables = argument
            variables = {key: self.resolve(item) for key, item in raw_variables.items()}
        out: list[str] = []
        for literal, name in _sub_parts(text):
            out.append(literal)
            if name is None:
                continue
            if name in variables:
                out.append(_text(variables[name]))
            elif "." in name and name not in self.pseudo:
                resource, _, attribute = name.partition(".")
                out.append(_text(self._fn_get_att([resource, attribute])))
            elif name in self.pseudo or name in self.parameters:
                out.append(_text(self.ref(name)))
            else:
                try:
                    out.append(_text(self._sub_ref(name)))
                except KeyError:
                    raise TemplateError(f"Sub variable {name!r} is unknown") from None
        return "".join(out)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = self.resolve(argument)
        return _text(left) == _text(right)

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = argument
        resolved = self.resolve(items)
        return str(delimiter).join(_text(item) for item in resolved)

    def _fn_select(self, argument: Any) -> Any:
        index, items = self.resolve(argument)
        return items[int(index)]

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = self.resolve(argument)
        return _text(text).split(str(delimiter))

    def _fn_find_in_map(self, argument: Any) -> Any:
        name, first, second = (str(x) for x in self.resolve(argument))
        try:
            return self._mappings[name][first][second]
        except KeyError:
            raise TemplateError(f"FindInMap {name}/{first}/{second} has no entry") from None

    def _fn_base64(self, argument: Any) -> str:
        import base64

        return base64.b64encode(_text(self.resolve(argument)).encode()).decode()

    def _fn_import_value(self, argument: Any) -> Any:
        raise TemplateError(f"Fn::ImportValue {argument!r}: no other stacks exist locally")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return str(value)


def parameter_values(
    declared: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Parameter values from their defaults and overrides, typed as CloudFormation does."""
    values: dict[str, Any] = {}
    overrides = overrides or {}
    for name, spec in declared.items():
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name!r} has no default; give it a value")
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            if isinstance(raw, list):
                values[name] = [str(item) for item in raw]
            else:
                text = str(raw)
                values[name] = [item.strip() for item in text.split(",")] if text else []
        else:
            values[name] = _text(raw)
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    return values
