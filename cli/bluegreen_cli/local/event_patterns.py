"""EventBridge event patterns: the checks PutRule makes, and matching an event.

EventBridge compiles patterns with its open-source rule engine (aws/event-ruler), so the
checks and their reasons follow that engine's compiler: a pattern it refuses is answered
``InvalidEventPatternException`` with "Event pattern is not valid. Reason: <reason>".

Matching follows the User Guide ("Event patterns", "Content filtering"): an event is seen
as its *leaves* (each field path with a string, number, boolean or null value; the elements
of an array count as values of the array's path; an object or an empty array is no leaf).
Every field of the pattern must match (AND); the values listed for a field are alternatives
(OR); ``exists`` asks whether the path has a leaf; ``$or`` holds alternative sub-patterns.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

MAX_PATTERN_LENGTH = 4096
"""The API's limit on EventPattern (botocore's model: ``EventPattern`` max 4096)."""

PATTERN_SIZE_QUOTA = 2048
"""EventBridge's default "Event pattern size" quota, in characters."""

# Numbers in patterns, and the event values numeric filters compare, are kept to this range.
_NUMBER_LIMIT = 5e9

_RESERVED_IN_OR = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)


class InvalidEventPattern(ValueError):
    """The pattern is not one EventBridge accepts; ``str()`` is EventBridge's reason."""


def aws_message(reason: str) -> str:
    """The message of EventBridge's InvalidEventPatternException for a reason."""
    return f"Event pattern is not valid. Reason: {reason}"


def parse_pattern(text: str) -> dict[str, Any]:
    """A pattern from its JSON text, checked as PutRule checks it."""

    def no_constant(name: str) -> Any:
        raise InvalidEventPattern(f"Non-standard token '{name}'")

    try:
        pattern = json.loads(text, parse_constant=no_constant)
    except ValueError as e:
        if isinstance(e, InvalidEventPattern):
            raise
        raise InvalidEventPattern(f"Invalid JSON: {getattr(e, 'msg', e)}") from e
    validate_pattern(pattern)
    assert isinstance(pattern, dict)
    return pattern


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether an event matches a pattern; InvalidEventPattern if EventBridge refuses it."""
    validate_pattern(pattern)
    return _object_matches(pattern, event if isinstance(event, dict) else {})


# -- what PutRule accepts --------------------------------------------------------------


def validate_pattern(pattern: Any) -> None:
    """Raise InvalidEventPattern, with EventBridge's reason, for a pattern it refuses."""
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("Filter is not an object")
    _check_object(pattern, inside_or=False)


def _check_object(node: dict[str, Any], inside_or: bool) -> None:
    if not node:
        raise InvalidEventPattern("Empty objects are not allowed")
    for key, value in node.items():
        if key == "$or":
            _check_or(value)
            continue
        if inside_or and key in _RESERVED_IN_OR:
            raise InvalidEventPattern(
                f"{key} is Ruler reserved fieldName which cannot be used inside $or."
            )
        if isinstance(value, dict):
            _check_object(value, inside_or)
        elif isinstance(value, list):
            _check_values(value)
        else:
            raise InvalidEventPattern(f'"{key}" must be an object or an array')


def _check_or(alternatives: Any) -> None:
    if not isinstance(alternatives, list):
        raise InvalidEventPattern("It must be an Array followed with $or.")
    for alternative in alternatives:
        if not isinstance(alternative, dict):
            raise InvalidEventPattern("Only JSON object is allowed in array of $or relationship.")
        _check_object(alternative, inside_or=True)
    if len(alternatives) < 2:
        raise InvalidEventPattern("There must have at least 2 Objects in $or relationship.")


def _check_values(values: list[Any]) -> None:
    for value in values:
        if isinstance(value, dict):
            _check_filter(value)
        elif isinstance(value, list):
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
    if not values:
        raise InvalidEventPattern("Empty arrays are not allowed")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A JSON value as the engine's messages quote it."""
    return value if isinstance(value, str) else json.dumps(value)


def _check_number(value: float) -> None:
    if not -_NUMBER_LIMIT <= value <= _NUMBER_LIMIT:
        raise InvalidEventPattern("Value must be between -5.0E9 and 5.0E9, inclusive")


def _check_filter(content_filter: dict[str, Any]) -> None:
    if not content_filter:
        raise InvalidEventPattern("Match expression name not found")
    name, operand = next(iter(content_filter.items()))
    one_key = "Only one key allowed in match expression"
    if name in ("exactly", "equals-ignore-case", "wildcard"):
        if not isinstance(operand, str):
            kind = "exact" if name == "exactly" else name
            raise InvalidEventPattern(f"{kind} match pattern must be a string")
        if name == "wildcard":
            _wildcard_regex(operand)
    elif name in ("prefix", "suffix"):
        if isinstance(operand, dict):
            _check_ignore_case(name, operand)
        elif not isinstance(operand, str):
            raise InvalidEventPattern(f"{name} match pattern must be a string")
    elif name == "numeric":
        if not isinstance(operand, list):
            raise InvalidEventPattern("Value of numeric must be an array.")
        _check_numeric(operand)
        one_key = "Too many elements in numeric expression"
    elif name == "anything-but":
        _check_anything_but(operand)
        one_key = "Too many elements in numeric expression"
    elif name == "exists":
        if not isinstance(operand, bool):
            raise InvalidEventPattern("exists match pattern must be either true or false.")
    elif name == "cidr":
        if not isinstance(operand, str):
            # (sic) the engine's own wording for a cidr that is not a string
            raise InvalidEventPattern("prefix match pattern must be a string")
        _cidr_range(operand)
    else:
        raise InvalidEventPattern(f"Unrecognized match type {name}")
    if len(content_filter) > 1:
        raise InvalidEventPattern(one_key)


def _check_ignore_case(name: str, operand: dict[str, Any]) -> None:
    """``{"prefix": {"equals-ignore-case": "..."}}`` (and suffix)."""
    if not operand:
        raise InvalidEventPattern(f"{name.capitalize()} expression name not found")
    inner, value = next(iter(operand.items()))
    if inner != "equals-ignore-case":
        raise InvalidEventPattern(f"Unsupported {name} pattern: {inner}")
    if not isinstance(value, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    if len(operand) > 1:
        raise InvalidEventPattern("Only one key allowed in match expression")


def _check_numeric(terms: list[Any]) -> None:
    def value_at(index: int, operator: str) -> float:
        if index >= len(terms) or not _is_number(terms[index]):
            raise InvalidEventPattern(f"Value of {operator} must be numeric")
        return float(terms[index])

    def ends_at(index: int, message: str = "Too many elements in numeric expression") -> None:
        if len(terms) > index:
            raise InvalidEventPattern(message)

    if not terms or not isinstance(terms[0], str):
        raise InvalidEventPattern(
            f"Invalid member in numeric match: {_text(terms[0]) if terms else ']'}"
        )
    operator = terms[0]
    if operator == "=":
        if len(terms) < 2 or not _is_number(terms[1]):
            raise InvalidEventPattern("Value of equals must be numeric")
        ends_at(2)
        _check_number(float(terms[1]))
    elif operator in ("<", "<="):
        top = value_at(1, operator)
        ends_at(2)
        _check_range(-_NUMBER_LIMIT, top)
    elif operator in (">", ">="):
        bottom = value_at(1, operator)
        if len(terms) == 2:
            _check_range(bottom, _NUMBER_LIMIT)
            return
        upper = terms[2]
        if not isinstance(upper, str):
            raise InvalidEventPattern(f"Bad value in numeric range: {_text(upper)}")
        if upper not in ("<", "<="):
            raise InvalidEventPattern(f"Bad numeric range operator: {upper}")
        top = value_at(3, upper)
        ends_at(4, "Too many terms in numeric range expression")
        _check_range(bottom, top)
    else:
        raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")


def _check_range(bottom: float, top: float) -> None:
    if bottom >= top:
        raise InvalidEventPattern("Bottom must be less than top")
    _check_number(bottom)
    _check_number(top)


_ANYTHING_BUT_OPERATORS = ("equals-ignore-case", "prefix", "suffix", "wildcard")


def _check_anything_but(operand: Any) -> None:
    operator = ""
    if isinstance(operand, dict):
        if not operand:
            raise InvalidEventPattern("Anything-But expression name not found")
        operator, inner = next(iter(operand.items()))
        if operator not in _ANYTHING_BUT_OPERATORS:
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {operator}")
        if len(operand) > 1:
            raise InvalidEventPattern("Too many elements in numeric expression")
        operand = inner
    if not (isinstance(operand, list | str) or _is_number(operand)):
        raise InvalidEventPattern(
            "Value of anything-but must be an array or single string/number value."
        )
    if not operator:
        _check_excluded_values(operand if isinstance(operand, list) else [operand])
        return
    for value in operand if isinstance(operand, list) else [operand]:
        if not isinstance(value, str):
            if operator == "equals-ignore-case":
                raise InvalidEventPattern(
                    "Inside anything-but/equals-ignore-case list, "
                    "number|start|null|boolean is not supported."
                )
            if operator == "wildcard":
                raise InvalidEventPattern("wildcard match pattern must be a string")
            raise InvalidEventPattern("prefix/suffix match pattern must be a string")
        if operator in ("prefix", "suffix") and not value:
            raise InvalidEventPattern("Null prefix/suffix not allowed")
        if operator == "wildcard":
            _wildcard_regex(value)


def _check_excluded_values(values: list[Any]) -> None:
    for value in values:
        if not (isinstance(value, str) or _is_number(value)):
            raise InvalidEventPattern(
                "Inside anything but list, start|null|boolean is not supported."
            )
        if _is_number(value):
            _check_number(float(value))
    strings = sum(isinstance(v, str) for v in values)
    if strings not in (len(values), 0) or not values:
        raise InvalidEventPattern(
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported"
        )


def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; ``\\*`` and ``\\\\`` are the literal ones."""
    pieces: list[str] = []
    # Positions are counted as the engine counts them: in the quoted value's UTF-8 bytes.
    position = 1
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            if pattern[index + 1 : index + 2] == "*":
                raise InvalidEventPattern(f"Consecutive wildcard characters at pos {position}")
            pieces.append(".*")
        elif char == "\\":
            following = pattern[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise InvalidEventPattern(f"Invalid escape character at pos {position}")
            pieces.append(re.escape(following))
            index += 1
            position += 1
        else:
            pieces.append(re.escape(char))
        position += len(char.encode("utf-8"))
        index += 1
    return re.compile("".join(pieces), re.DOTALL)


_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6 = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def _ip_number(text: str) -> tuple[int, int]:
    """(address as an integer, its bit length), as the engine reads an IP literal."""
    if not (_IPV4.fullmatch(text) or _IPV6.fullmatch(text)):
        raise InvalidEventPattern(f"Nonstandard IP address: {text}")
    try:
        address = ipaddress.ip_address(text)
    except ValueError as e:
        raise InvalidEventPattern(f"Invalid IP address: {text}") from e
    return int(address), address.max_prefixlen


def _cidr_range(cidr: str) -> tuple[int, int, int]:
    """(bits, lowest, highest) of a cidr filter.

    The range starts at the address as written (host bits are kept, as the engine keeps
    them) and ends with every host bit set.
    """
    parts = cidr.split("/")
    if len(parts) != 2:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    if not re.fullmatch(r"[+-]?[0-9]+", parts[1]):
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer")
    mask = int(parts[1])
    if mask < 0:
        raise InvalidEventPattern("Malformed CIDR, mask bits must not be negative")
    low, bits = _ip_number(parts[0])
    if mask >= bits:
        family = "IPv4" if bits == 32 else "IPv6"
        raise InvalidEventPattern(f"{family} mask bits must be < {bits}")
    return bits, low, low | ((1 << (bits - mask)) - 1)


# -- matching --------------------------------------------------------------------------

_MISSING = object()


def _leaves(value: Any) -> list[Any]:
    """The leaf values at a path: scalars, and the scalars inside arrays (at any depth)."""
    if value is _MISSING or isinstance(value, dict):
        return []
    if isinstance(value, list):
        return [leaf for element in value for leaf in _leaves(element)]
    return [value]


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects at a path: the value itself, or the objects inside arrays."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [found for element in value for found in _objects(element)]
    return []


def _object_matches(pattern: dict[str, Any], node: dict[str, Any]) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not any(_object_matches(alternative, node) for alternative in expected):
                return False
            continue
        value = node.get(key, _MISSING)
        if isinstance(expected, dict):
            objects = _objects(value)
            if objects:
                matched = any(_object_matches(expected, found) for found in objects)
            else:
                # No object here: every leaf below is missing.
                matched = _object_matches(expected, {})
        else:
            matched = _leaf_matches(expected, _leaves(value))
        if not matched:
            return False
    return True


def _leaf_matches(alternatives: list[Any], leaves: list[Any]) -> bool:
    for alternative in alternatives:
        if isinstance(alternative, dict) and "exists" in alternative:
            if alternative["exists"] is bool(leaves):
                return True
        elif any(_value_matches(alternative, leaf) for leaf in leaves):
            return True
    return False


def _value_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    name, operand = next(iter(matcher.items()))
    if name == "exactly":
        return isinstance(value, str) and value == operand
    if name == "prefix":
        return _text_test(operand, value, str.startswith)
    if name == "suffix":
        return _text_test(operand, value, str.endswith)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(operand).lower()
    if name == "wildcard":
        return isinstance(value, str) and _wildcard_regex(operand).fullmatch(value) is not None
    if name == "anything-but":
        return _anything_but(operand, value)
    if name == "numeric":
        return _numeric(operand, value)
    if name == "cidr":
        return _in_cidr(operand, value)
    raise InvalidEventPattern(f"Unrecognized match type {name}")


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or value is None:
        return expected is None and value is None
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    if isinstance(expected, str) and isinstance(value, str):
        return expected == value
    return False


def _text_test(operand: Any, value: Any, test: Callable[[str, str], bool]) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(operand, dict):
        return test(value.lower(), str(operand["equals-ignore-case"]).lower())
    return test(value, str(operand))


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        operator, inner = next(iter(operand.items()))
        excluded = inner if isinstance(inner, list) else [inner]
        test = _ANYTHING_BUT_TESTS[operator]
        return not any(test(item, value) for item in excluded)
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(_equal(item, value) for item in excluded)


_ANYTHING_BUT_TESTS: dict[str, Callable[[str, Any], bool]] = {
    "equals-ignore-case": lambda item, value: (
        isinstance(value, str) and value.lower() == item.lower()
    ),
    "prefix": lambda item, value: isinstance(value, str) and value.startswith(item),
    "suffix": lambda item, value: isinstance(value, str) and value.endswith(item),
    "wildcard": lambda item, value: (
        isinstance(value, str) and _wildcard_regex(item).fullmatch(value) is not None
    ),
}

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(terms: list[Any], value: Any) -> bool:
    # Only JSON numbers, and only those the engine can compare (within ±5e9).
    if not _is_number(value) or not -_NUMBER_LIMIT <= value <= _NUMBER_LIMIT:
        return False
    return all(
        _COMPARISONS[str(terms[index])](float(value), float(terms[index + 1]))
        for index in range(0, len(terms), 2)
    )


def _in_cidr(cidr: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    bits, low, high = _cidr_range(cidr)
    try:
        address, address_bits = _ip_number(value)
    except InvalidEventPattern:
        return False
    return address_bits == bits and low <= address <= high
