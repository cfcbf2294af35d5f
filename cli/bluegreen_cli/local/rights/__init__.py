"""Rights per function: every AWS call a function makes is authorized against its own role.

The roles and their policies come from ``template.yaml`` through the SAM transform
(``roles.py``); a request's signature tells who made it (``identity.py``); ``needs.py`` says
what IAM checks for the call and ``policy.py`` decides. A denied call gets AWS's own error
(``calls.py``), so Retry/Catch in the flow see what they would see on AWS.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen_cli.local.intrinsics import ACCOUNT_ID
from bluegreen_cli.local.rights.calls import AwsCall, denial_message
from bluegreen_cli.local.rights.identity import STATE_MACHINE_ACCESS_KEY, function_credentials
from bluegreen_cli.local.rights.needs import AccountView, needs_of
from bluegreen_cli.local.rights.policy import Need, evaluate
from bluegreen_cli.local.rights.roles import Role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """A function (or the state machine) acting as its role, in a session named after it."""

    logical_id: str
    session: str
    role: Role

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.role.name}/{self.session}"


@dataclass(frozen=True)
class Denial:
    principal: Principal
    need: Need
    reason: str

    @property
    def message(self) -> str:
        return denial_message(self.principal.arn, self.need.action, self.need.resource, self.reason)


class Rights:
    """Who is who (by access key) and what each may do."""

    def __init__(self, principals: Mapping[str, Principal], account: AccountView) -> None:
        self._principals = dict(principals)
        self._account = account
        self._lock = threading.Lock()
        self._denied: Counter[str] = Counter()
        self._allowed = 0
        self._recent: deque[dict[str, str]] = deque(maxlen=50)

    @classmethod
    def for_app(cls, app: Any, account: AccountView) -> Rights:
        """Principals of a ``LocalApp``: its functions by their keys, its state machine."""
        principals: dict[str, Principal] = {}
        for function in app.functions.values():
            role = app.role_of(function.logical_id)
            if role is not None:
                key = function_credentials(function.logical_id)["AWS_ACCESS_KEY_ID"]
                principals[key] = Principal(function.logical_id, function.name, role)
        machines = [m for m in app.state_machines if app.role_of(m) is not None]
        if len(machines) == 1:
            # moto's interpreter signs every state machine's calls alike: with one state
            # machine they are its calls; with more, they cannot be told apart.
            principals[STATE_MACHINE_ACCESS_KEY] = Principal(
                machines[0], machines[0], app.role_of(machines[0])
            )
        return cls(principals, account)

    def principal(self, access_key_id: str) -> Principal | None:
        """The function behind a key; None for the account's administrator (anyone else)."""
        return self._principals.get(access_key_id)

    def needs(self, call: AwsCall) -> list[Need]:
        """What IAM checks for the call (see needs.py)."""
        return needs_of(call, self._account)

    def check(self, call: AwsCall) -> Denial | None:
        """None when every authorization the call needs is allowed; else the first denial."""
        principal = self.principal(call.access_key_id)
        if principal is None:
            return None
        for need in self.needs(call):
            decision = evaluate(principal.role.documents, need)
            if not decision.allowed:
                denial = Denial(principal, need, decision.reason)
                self._count_denial(denial)
                return denial
        with self._lock:
            self._allowed += 1
        return None

    def _count_denial(self, denial: Denial) -> None:
        label = f"{denial.principal.logical_id} {denial.need.action}"
        log.warning("AccessDenied: %s", denial.message)
        with self._lock:
            self._denied[label] += 1
            self._recent.append(
                {
                    "principal": denial.principal.logical_id,
                    "action": denial.need.action,
                    "resource": denial.need.resource,
                    "reason": denial.reason,
                }
            )

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "allowed": self._allowed,
                "denied": sum(self._denied.values()),
                "denials": dict(sorted(self._denied.items())),
                "recent_denials": list(self._recent),
            }

    def describe(self) -> dict[str, Any]:
        """Each principal's role and what it may do, for ``/_local/app``."""
        return {
            p.logical_id: {"session": p.session, "principal": p.arn, **p.role.describe()}
            for p in sorted(self._principals.values(), key=lambda p: p.logical_id)
        }
