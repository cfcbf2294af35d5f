"""API Gateway HTTP API (payload format 2.0) in front of an in-process function.

The request becomes the event API Gateway would send, and the function's answer becomes
the HTTP response API Gateway would return, so the approval API runs the same handler code
locally as on AWS.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from bluegreen_cli.local.intrinsics import ACCOUNT_ID
from bluegreen_cli.local.runtime import Invocation
from bluegreen_cli.local.template import HttpRoute

API_ID = "local"

# Bodies API Gateway passes as text; anything else (forms included) arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith(("+json", "+xml"))


def http_api_event(
    request: Request, route: HttpRoute, path_parameters: dict[str, str]
) -> dict[str, Any]:
    """The payload format 2.0 event for a request that matched ``route``."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    raw_query = request.environ.get("QUERY_STRING", "")
    if isinstance(raw_query, bytes):
        raw_query = raw_query.decode("latin-1")
    now = time.time()
    request_id = base64.b32encode(uuid.uuid4().bytes).decode()[:16]
    host = request.host or "localhost"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        event["queryStringParameters"] = {
            key: ",".join(request.args.getlist(key)) for key in request.args
        }
    if path_parameters:
        event["pathParameters"] = path_parameters
    body = request.get_data()
    if body:
        if _is_text(request.headers.get("Content-Type", "")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def _internal_error() -> Response:
    return Response(
        json.dumps({"message": "Internal Server Error"}),
        status=500,
        content_type="application/json",
    )


def http_api_response(invocation: Invocation) -> Response:
    """The HTTP response API Gateway makes of a function's payload format 2.0 answer."""
    if invocation.function_error:
        return _internal_error()
    result = invocation.json()
    if not isinstance(result, dict) or "statusCode" not in result:
        # No statusCode: API Gateway returns the function's JSON answer as the body.
        return Response(invocation.payload, status=200, content_type="application/json")
    try:
        status = int(result["statusCode"])
        body: Any = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    except (TypeError, ValueError, binascii.Error):
        return _internal_error()
    response = Response(data, status=status)
    response.headers.remove("Content-Type")
    for name, value in (result.get("headers") or {}).items():
        response.headers[str(name)] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values or []:
            response.headers.add(str(name), str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    response.headers["apigw-requestid"] = invocation.request_id
    return response
