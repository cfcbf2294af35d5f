"""Credentials from STS AssumeRole: a principal of the role's account, as on AWS.

moto hands out AssumeRole credentials as temporary keys of the role's account (so its
backends act in that account), and keeps each session: which role, which session name.
The roles themselves, their trust policies and their permission policies are moto's IAM in
that account, as its administrator created them. This module reads all of it; the rights
decide with it (``rights/__init__.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

from bluegreen_cli.local.intrinsics import PARTITION
from bluegreen_cli.local.rights.account import MotoAccount
from bluegreen_cli.local.rights.needs import AccountView
from bluegreen_cli.local.rights.roles import PolicySource, Role


@dataclass(frozen=True)
class AssumedSession:
    """Who a key of STS's is: a session of a role, in the role's account."""

    account: str
    role_arn: str
    session_name: str


@dataclass(frozen=True)
class AccountRole:
    """A role as its account's IAM has it: what it may do, and whom it trusts."""

    role: Role
    trust: Mapping[str, Any]


class Sessions(Protocol):
    """What the rights ask of the emulated accounts about keys and roles."""

    def account_of(self, access_key: str) -> str: ...

    def assumed(self, access_key: str) -> AssumedSession | None: ...

    def role(self, role_arn: str) -> AccountRole | None: ...

    def view(self, account_id: str) -> AccountView: ...


def _document(text: Any) -> Mapping[str, Any]:
    """A policy document as IAM keeps it: JSON text (URL-encoded, when read back)."""
    if isinstance(text, Mapping):
        return text
    raw = str(text or "{}")
    try:
        found = json.loads(raw)
    except ValueError:
        found = json.loads(unquote(raw))
    return found if isinstance(found, Mapping) else {}


class MotoSessions:
    """``Sessions`` over moto's IAM and STS backends."""

    def __init__(self) -> None:
        self._views: dict[str, AccountView] = {}

    def account_of(self, access_key: str) -> str:
        """The account moto acts in for a key (a key it does not know: the default one)."""
        from moto.iam.models import get_account_id_from

        return str(get_account_id_from(access_key))

    def assumed(self, access_key: str) -> AssumedSession | None:
        from moto.sts.models import sts_backends

        account = self.account_of(access_key)
        if account not in sts_backends:
            return None
        for backend in list(sts_backends[account].values()):
            found = backend.get_assumed_role_from_access_key(access_key)
            if found is not None:
                return AssumedSession(account, str(found.role_arn), str(found.session_name))
        return None

    def role(self, role_arn: str) -> AccountRole | None:
        from moto.iam.models import iam_backends

        parts = role_arn.split(":")
        if len(parts) != 6 or parts[2] != "iam" or not parts[4].isdigit():
            return None
        account = parts[4]
        if account not in iam_backends:
            return None
        try:
            found = iam_backends[account][PARTITION].get_role_by_arn(role_arn)
        except Exception:  # moto's NotFoundException: no such role
            return None
        policies = [
            PolicySource("inline", str(name), _document(text))
            for name, text in sorted(found.policies.items())
        ]
        for managed in list(found.managed_policies.values()):
            default = next((v for v in managed.versions if v.is_default), None)
            if default is not None:
                policies.append(
                    PolicySource("managed", str(managed.name), _document(default.document))
                )
        role = Role(logical_id=str(found.name), arn=str(found.arn), policies=tuple(policies))
        return AccountRole(role, _document(found.assume_role_policy_document))

    def view(self, account_id: str) -> AccountView:
        if account_id not in self._views:
            self._views[account_id] = MotoAccount(account_id=account_id)
        return self._views[account_id]
