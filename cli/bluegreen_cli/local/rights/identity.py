"""Who signs a request: each function's own credentials, as Lambda hands them to it.

Lambda gives a function temporary credentials of its execution role (``ASIA...`` keys and a
session token). Locally each function gets a key derived from its logical id, so the server
can tell from a request's signature which role it acts as. Anyone else is the account's
administrator: an operator's CLI, a test's boto3 client.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

# moto's Step Functions interpreter signs its Lambda invocations with this key: those calls
# are the state machine's, made with its role.
STATE_MACHINE_ACCESS_KEY = "ak"


@cache
def function_credentials(logical_id: str) -> dict[str, str]:
    """The AWS_* credential variables of one function's execution environment."""
    digest = hashlib.sha256(f"bluegreen-local-function:{logical_id}".encode()).digest()
    # Lambda's keys are ASIA followed by 16 characters of A-Z and 2-7: base32's alphabet.
    key_id = "ASIA" + base64.b32encode(digest).decode("ascii")[:16]
    secret = base64.b64encode(hashlib.sha256(b"secret:" + digest).digest()).decode("ascii")
    token = base64.b64encode(hashlib.sha512(b"token:" + digest).digest()).decode("ascii")
    return {
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret[:40],
        "AWS_SESSION_TOKEN": token,
    }
