"""Clients and the translation of AWS errors into domain errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen.errors import AwsThrottled, BluegreenError

THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RateExceeded",
    }
)

# The state machine retries with backoff; the SDK's own retries stay short so a Lambda
# never burns its timeout waiting.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)


def client(service: str) -> Any:
    """A client in the function's own region (and ``AWS_ENDPOINT_URL`` when one is set)."""
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


def error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(mapping: Mapping[str, type[BluegreenError]] | None = None) -> Iterator[None]:
    """Turn ``ClientError`` codes into domain errors the state machine can match on."""
    try:
        yield
    except ClientError as e:
        code = error_code(e)
        if code in THROTTLING:
            raise AwsThrottled(f"{code}: {e}") from e
        if mapping and code in mapping:
            message = e.response.get("Error", {}).get("Message", code)
            raise mapping[code](message) from e
        raise
