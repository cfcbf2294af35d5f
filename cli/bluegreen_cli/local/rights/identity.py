"""Who signs a request: each function's own credentials, as Lambda hands them to it.

Lambda gives a function temporary credentials of its execution role (``ASIA...`` keys and a
session token). Locally each function gets a key derived from its logical id, so the server
can tell from a request's signature which role it acts as. Anyone else is the account's
administrator: an operator's CLI, a test's boto3 client.
"""

from __future__ import annotations

import base64
import hashlib

# moto's Step Functions interpreter signs its Lambda invocations with this key: those calls
# are the state machine's, made with its role.
STATE_MACHINE_ACCESS_KEY = "ak"


def function_credentials(logical_id: str) -> dict[str, str]:
    """The AWS_* credential variables of one function's execution environment."""
    digest = hashlib.sha256(f"bluegreen-local:{logical_id}".encode()).digest()
    key = "ASIA" + base64.b32encode(digest).decode()[:16]
    secret = base64.b64encode(digest).decode()[:40]
    return {
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": f"local-session-{logical_id}",
    }
