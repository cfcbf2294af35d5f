"""Lambda timeouts against the longest an AWS call (or the probe's request) can take."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scripts.limits import Result

DEFAULT_LAMBDA_TIMEOUT = 3  # seconds, when a function sets none

_LEGACY_ATTEMPTS, _STANDARD_ATTEMPTS = 5, 3  # botocore's defaults, the first one included


def sdk_attempts(config: Any) -> int:
    """Attempts botocore makes for one call with ``config`` (a botocore Config)."""
    retries = dict(config.retries or {})
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    if "max_attempts" in retries:  # retries only: the first attempt comes on top
        return int(retries["max_attempts"]) + 1
    return (
        _STANDARD_ATTEMPTS if retries.get("mode") in ("standard", "adaptive") else _LEGACY_ATTEMPTS
    )


def sdk_worst_case_seconds(config: Any) -> float:
    """The longest one AWS call can take with ``config``: every attempt waits out its
    connect and read timeouts, with the longest backoff before each retry (standard mode:
    up to min(2**i, 20) s before retry i+1; legacy mode: up to 2**i s, uncapped)."""
    attempts = sdk_attempts(config)
    standard = dict(config.retries or {}).get("mode") in ("standard", "adaptive")
    backoff = sum(min(2**i, 20) if standard else 2**i for i in range(attempts - 1))
    per_attempt = float(config.connect_timeout) + float(config.read_timeout)
    return float(attempts * per_attempt + backoff)


def _functions(transformed: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    for name, resource in transformed.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Lambda::Function":
            timeout = resource.get("Properties", {}).get("Timeout", DEFAULT_LAMBDA_TIMEOUT)
            yield name, int(timeout)


def sdk_time_within_timeouts(transformed: Mapping[str, Any], config: Any) -> list[Result]:
    worst = sdk_worst_case_seconds(config)
    how = (
        f"{sdk_attempts(config)} attempts x ({config.connect_timeout:g} s connect + "
        f"{config.read_timeout:g} s read) + backoff = {worst:g} s"
    )
    return [
        Result(
            "Lambda Timeout vs the worst case of one AWS call (the functions' botocore Config)",
            name,
            f"{how} {'<' if worst < timeout else '>='} Timeout {timeout} s",
            worst < timeout,
        )
        for name, timeout in _functions(transformed)
    ]


def probe_within_timeout(
    transformed: Mapping[str, Any], function: str, request_timeout: float
) -> list[Result]:
    timeouts = dict(_functions(transformed))
    if function not in timeouts:
        quota = "Lambda Timeout vs the largest probe request timeout the configuration accepts"
        return [Result(quota, function, "no such function in the template", False)]
    timeout = timeouts[function]
    return [
        Result(
            "Lambda Timeout vs the largest probe request timeout the configuration accepts",
            function,
            f"{request_timeout:g} s {'<' if request_timeout < timeout else '>='} "
            f"Timeout {timeout} s",
            request_timeout < timeout,
        )
    ]
