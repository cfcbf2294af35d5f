"""Step Functions payload size: a state's input or output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from scripts.limits import Result

PAYLOAD_BYTES = 256 * 1024  # UTF-8 bytes


def payload_sizes(documents: Mapping[str, Any], envelope: int) -> list[Result]:
    """``documents``: name -> the largest document of that kind; ``envelope``: what the
    Lambda integration adds around a payload (status code, headers) before OutputPath."""
    results = []
    for name, document in documents.items():
        size = len(json.dumps(document, separators=(",", ":")).encode()) + envelope
        results.append(
            Result(
                f"Step Functions payload size (quota {PAYLOAD_BYTES:,} bytes, 256 KiB)",
                name,
                f"at most {size:,} bytes",
                size <= PAYLOAD_BYTES,
            )
        )
    return results
