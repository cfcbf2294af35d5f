"""API Gateway HTTP API events (payload format 2.0) and the answers Lambda gives it.

Only what the approval API uses: the route, the method, the route's path parameters, the raw
path and query string, the query parameters, the headers (lower-cased, as API Gateway sends
them), the body (base64-decoded when API Gateway encoded it).
Powertools' event handler did this routing; importing it (every resolver it offers, asyncio
for the AppSync one, all the event data classes) cost ~30 ms of each cold start of the one
function a person waits on, for two routes that API Gateway already tells apart.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    route_key: str
    method: str
    raw_path: str
    raw_query_string: str
    query: dict[str, str]
    path_parameters: dict[str, str]
    headers: dict[str, str]
    body: str

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> Request:
        body: str = event.get("body") or ""
        if event.get("isBase64Encoded") and body:
            body = base64.b64decode(body.encode()).decode()
        return cls(
            route_key=str(event.get("routeKey", "")),
            method=event["requestContext"]["http"]["method"],
            raw_path=event.get("rawPath", ""),
            raw_query_string=event.get("rawQueryString", ""),
            query=dict(event.get("queryStringParameters") or {}),
            path_parameters=dict(event.get("pathParameters") or {}),
            headers={str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()},
            body=body,
        )


def json_response(status: int, document: Any) -> dict[str, Any]:
    """A JSON answer (``None``: an empty one)."""
    import json

    body = "" if document is None else json.dumps(document)
    return response(status, {"Content-Type": "application/json"}, body)


def response(status: int, headers: Mapping[str, str], body: str) -> dict[str, Any]:
    """A text answer, shaped as API Gateway reads a payload format 2.0 response."""
    return {
        "statusCode": status,
        "body": body,
        "isBase64Encoded": False,
        "headers": dict(headers),
        "cookies": [],
    }
