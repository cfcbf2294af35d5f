"""Clients and the translation of AWS errors into domain errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from bluegreen.errors import AwsThrottled, AwsUnavailable, BluegreenError

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

# Every AWS call gives up well inside the shortest function timeout (the approval API's 10 s):
# at worst MAX_ATTEMPTS x (connect + read timeouts) plus standard mode's backoff between
# attempts (at most 1 s before the second). botocore's defaults (60 s connect, 60 s read,
# 3 to 5 attempts) would let one call outlive any Lambda's timeout, ending the invocation
# as a timeout (Lambda.Unknown) instead of an error the state machine can match. The state
# machine's Retry does the patient retrying; scripts/check_limits.py checks the arithmetic
# against every function's Timeout in the template.
CONNECT_TIMEOUT_SECONDS: Final = 1.0
READ_TIMEOUT_SECONDS: Final = 3.0
MAX_ATTEMPTS: Final = 2  # the first attempt included
SDK_CONFIG: Final = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    # total_max_attempts counts the first attempt; Config's max_attempts would not.
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
)


# What the SDK raises once its own attempts are spent on an endpoint that did not answer:
# transient, like throttling, so the state machine's Retry may try the step again later.
UNREACHABLE = (
    ReadTimeoutError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ConnectionClosedError,
)


def error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(mapping: Mapping[str, type[BluegreenError]] | None = None) -> Iterator[None]:
    """Turn ``ClientError`` codes, and an endpoint that did not answer, into domain errors
    the state machine can match on."""
    try:
        yield
    except UNREACHABLE as e:
        raise AwsUnavailable(f"{type(e).__name__}: {e}") from e
    except ClientError as e:
        code = error_code(e)
        if code in THROTTLING:
            raise AwsThrottled(f"{code}: {e}") from e
        if mapping and code in mapping:
            message = e.response.get("Error", {}).get("Message", code)
            raise mapping[code](message) from e
        raise
