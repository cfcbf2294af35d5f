"""An AWS API request as IAM sees it: who signed it, which service and operation, what input.

And the other way: a denial written the way each service's protocol writes it, so boto3
raises the same ``ClientError`` (code, message, HTTP status) that AWS would give.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

# SigV4 signing names that differ from the IAM service prefix.
_PREFIX_OF_SIGNING_NAME = {"email": "ses", "monitoring": "cloudwatch"}

# How each service reports a denied request (code, HTTP status); JSON services say
# AccessDeniedException with 400, query services AccessDenied with 403, SNS its own code.
_DENIAL_CODES = {
    "sns": ("AuthorizationError", 403),
    "ses": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
}


@dataclass(frozen=True)
class AwsCall:
    """One API call: the IAM service prefix, the operation and its (parsed) input."""

    access_key_id: str
    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    protocol: str = "json"  # "json", "query" or "rest"

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


def access_key_of(environ: dict[str, Any]) -> str:
    """The access key id a SigV4 ``Authorization`` header names ("" when unsigned)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        return authorization.split("Credential=")[1].split("/")[0].strip()
    except IndexError:
        return ""


def signing_service(environ: dict[str, Any]) -> str:
    """The service in the credential scope (``Credential=AKID/date/us-east-1/ecs/aws4_request``)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        return authorization.split("Credential=")[1].split(",")[0].split("/")[3]
    except IndexError:
        return ""


def parse_call(environ: dict[str, Any], body: bytes) -> AwsCall | None:
    """The call a JSON- or query-protocol request makes; None when it is neither."""
    signing = signing_service(environ)
    service = _PREFIX_OF_SIGNING_NAME.get(signing, signing)
    key = access_key_of(environ)
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        try:
            params = json.loads(body) if body.strip() else {}
        except ValueError:
            params = {}
        return AwsCall(key, service, target.rsplit(".", 1)[-1], dict(params or {}), "json")
    if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        action = form.pop("Action", "")
        if action:
            return AwsCall(key, service, action, form, "query")
    return None


def denial_message(principal_arn: str, action: str, resource: str, reason: str) -> str:
    """IAM's wording: who, which action, on what, and why.

    The caller's own policies are named as the reason; a role's trust policy (another
    account's, often) is not: STS refuses AssumeRole with who, the action and the role
    only, whether the role does not trust the caller or does not exist.
    """
    on = f" on resource: {resource}" if resource != "*" else ""
    said = f"User: {principal_arn} is not authorized to perform: {action}{on}"
    if reason == "explicit deny":
        return f"{said} with an explicit deny in an identity-based policy"
    if reason == "implicit deny":
        return f"{said} because no identity-based policy allows the {action} action"
    return said


def denial_response(call: AwsCall, message: str) -> Response:
    code, status = _DENIAL_CODES.get(call.service, ("AccessDeniedException", 400))
    request_id = str(uuid.uuid4())
    if call.protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(
            body, status=status, content_type="text/xml", headers={"x-amzn-RequestId": request_id}
        )
    return Response(
        json.dumps({"__type": code, "message": message, "Message": message}),
        status=status,
        content_type="application/x-amz-json-1.1",
        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
    )
