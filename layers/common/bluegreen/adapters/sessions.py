"""Acting in another account: a boto3 session with the credentials of a role assumed there.

An environment in another account names a role the app may assume (its ``role_arn``, with
an ``external_id`` when the role's trust asks for one). The session's credentials come from
STS ``AssumeRole`` on first use and are refreshed by botocore before they expire (its
refreshable credentials: 15 minutes ahead, and at the latest 10 minutes ahead), so a warm
container keeps one session per role however many executions it serves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Protocol

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials

# STS: RoleSessionName is 2 to 64 characters of [\w+=,.@-].
_SESSION_NAME_MAX: Final = 64
_NOT_IN_SESSION_NAME = re.compile(r"[^\w+=,.@-]", re.ASCII)


def session_name(*parts: str) -> str:
    """A RoleSessionName from ``parts`` (who acts): joined by '-', characters STS refuses
    replaced, cut to STS's 64 characters. It names the caller in the target account's
    CloudTrail and in the assumed-role ARN (``assumed-role/<role>/<session name>``)."""
    name = _NOT_IN_SESSION_NAME.sub("-", "-".join(p for p in parts if p))
    name = name[:_SESSION_NAME_MAX].strip("-") or "bluegreen"
    return name if len(name) >= 2 else f"{name}-bluegreen"


class Sts(Protocol):
    """What is asked of STS: an ``STSClient``."""

    def assume_role(self, **kwargs: Any) -> Mapping[str, Any]: ...


class _AssumedRole(CredentialProvider):
    """The session's only credentials: the role's, fetched when first needed."""

    METHOD = "bluegreen-assume-role"
    CANONICAL_NAME = "bluegreen-assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials


def regional_session(
    region: str | None, base: boto3.session.Session | None = None
) -> boto3.session.Session:
    """A session of the caller's own credentials in ``region``. With ``base``, it shares
    that session's loaded service models and endpoints (a cold start parses them once)."""
    return boto3.session.Session(botocore_session=_core(base), region_name=region)


def _core(base: boto3.session.Session | None) -> botocore.session.Session:
    core = botocore.session.Session()
    if base is not None:
        core.register_component("data_loader", base._session.get_component("data_loader"))
    return core


def assumed_session(
    sts: Sts,
    role_arn: str,
    name: str,
    external_id: str | None = None,
    region: str | None = None,
    base: boto3.session.Session | None = None,
) -> boto3.session.Session:
    """A session acting as ``role_arn`` (as session ``name``) in ``region``; sharing
    ``base``'s loaded service models when given.

    ``sts`` asks for the credentials: the caller's own client, with the caller's timeouts
    and attempts. Nothing is asked until a client of the session makes its first call; a
    refusal (AccessDenied: the role does not trust the caller, or the caller may not assume
    it) is raised by that call.
    """

    def fetch() -> dict[str, Any]:
        asked: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": name}
        if external_id:
            asked["ExternalId"] = external_id
        credentials = sts.assume_role(**asked)["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    credentials = DeferredRefreshableCredentials(refresh_using=fetch, method=_AssumedRole.METHOD)
    core = _core(base)
    # First in the chain: the environment's own credentials (the function's) stay unused.
    resolver: Any = core.get_component("credential_provider")
    resolver.insert_before("env", _AssumedRole(credentials))
    return boto3.session.Session(botocore_session=core, region_name=region)
