"""Rights per function: every AWS call a function makes is authorized against its own role.

The roles and their policies come from ``template.yaml`` through the SAM transform
(``roles.py``); a request's signature tells who made it (``identity.py``); ``needs.py`` says
what IAM checks for the call and ``policy.py`` decides. A denied call gets AWS's own error
(``calls.py``), so Retry/Catch in the flow see what they would see on AWS.

Credentials from STS AssumeRole are a principal too (``assumed.py``): a session of the
role, in the role's account, whose calls are authorized against that role's policies on
that account's resources. AssumeRole itself needs the caller's own ``sts:AssumeRole`` on
the role (the administrator's covers every role) and the role's trust in the caller.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen_cli.local.intrinsics import ACCOUNT_ID, PARTITION
from bluegreen_cli.local.rights.assumed import AssumedSession, Sessions
from bluegreen_cli.local.rights.calls import AwsCall, denial_message
from bluegreen_cli.local.rights.identity import STATE_MACHINE_ACCESS_KEY, function_credentials
from bluegreen_cli.local.rights.needs import AccountView, needs_of
from bluegreen_cli.local.rights.policy import Caller, Need, evaluate, trusts
from bluegreen_cli.local.rights.roles import Role

log = logging.getLogger(__name__)

ASSUME_ROLE = "sts:AssumeRole"


@dataclass(frozen=True)
class Principal:
    """A role's session: a function (or the state machine) acting as its role in a session
    named after it, or a session STS AssumeRole opened (in the role's account)."""

    logical_id: str
    session: str
    role: Role
    account: str = ACCOUNT_ID

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:sts::{self.account}:assumed-role/{self.role.name}/{self.session}"


@dataclass(frozen=True)
class Denial:
    who: str  # the function's logical id, the assumed role's name, or "administrator"
    caller_arn: str
    need: Need
    reason: str

    @property
    def message(self) -> str:
        return denial_message(self.caller_arn, self.need.action, self.need.resource, self.reason)


class Rights:
    """Who is who (by access key) and what each may do."""

    def __init__(
        self,
        principals: Mapping[str, Principal],
        account: AccountView,
        sessions: Sessions | None = None,
    ) -> None:
        self._principals = dict(principals)
        self._account = account
        self._sessions = sessions
        # A key is a session of STS's from its first use on: never anyone else later.
        self._assumed: dict[str, AssumedSession | None] = {}
        self._lock = threading.Lock()
        self._denied: Counter[str] = Counter()
        self._allowed = 0
        self._recent: deque[dict[str, str]] = deque(maxlen=50)

    @classmethod
    def for_app(cls, app: Any, account: AccountView, sessions: Sessions | None = None) -> Rights:
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
        return cls(principals, account, sessions)

    def principal(self, access_key_id: str) -> Principal | None:
        """The role session behind a key (a function's, or one STS AssumeRole opened);
        None for the administrator (anyone else), who acts as the app account's."""
        found = self._principals.get(access_key_id)
        if found is not None or self._sessions is None:
            return found
        session = self._session_of(access_key_id)
        if session is None:
            return None
        role = self._sessions.role(session.role_arn)
        # A role deleted since: its sessions may do nothing any more.
        named = role.role if role else Role(session.role_arn, session.role_arn, ())
        return Principal(named.name, session.session_name, named, session.account)

    def _session_of(self, access_key_id: str) -> AssumedSession | None:
        with self._lock:
            if access_key_id in self._assumed:
                return self._assumed[access_key_id]
        assert self._sessions is not None
        session = self._sessions.assumed(access_key_id)
        with self._lock:
            self._assumed[access_key_id] = session
        return session

    def governs(self, access_key_id: str, service: str) -> bool:
        """Whether a request signed with the key is checked: every call of a role's session;
        of the administrator, AssumeRole only (the role's trust still decides)."""
        return service == "sts" or self.principal(access_key_id) is not None

    def needs(self, call: AwsCall, principal: Principal | None = None) -> list[Need]:
        """What IAM checks for the call (see needs.py), in the caller's account."""
        if principal is None or principal.account == ACCOUNT_ID or self._sessions is None:
            return needs_of(call, self._account)
        return needs_of(call, self._sessions.view(principal.account), principal.account)

    def check(self, call: AwsCall) -> Denial | None:
        """None when every authorization the call needs is allowed; else the first denial."""
        principal = self.principal(call.access_key_id)
        if call.action == ASSUME_ROLE:
            denial = self._check_assume_role(call, principal)
        elif principal is None:
            return None
        else:
            denial = next(
                (
                    Denial(principal.logical_id, principal.arn, need, decision.reason)
                    for need in self.needs(call, principal)
                    if not (decision := evaluate(principal.role.documents, need)).allowed
                ),
                None,
            )
        if denial is not None:
            self._count_denial(denial)
            return denial
        with self._lock:
            self._allowed += 1
        return None

    def _check_assume_role(self, call: AwsCall, principal: Principal | None) -> Denial | None:
        """STS AssumeRole as IAM decides it: the caller's own policies must allow
        ``sts:AssumeRole`` on the role (the administrator's allow every role), and the role's
        trust policy must trust the caller, its conditions (``sts:ExternalId``) holding. A
        role that does not exist is refused the same way, naming no reason."""
        if principal is None:
            account = (
                self._sessions.account_of(call.access_key_id) if self._sessions else ACCOUNT_ID
            )
            who, caller = "administrator", Caller(account, (_root(account),))
        else:
            who = principal.logical_id
            caller = Caller(principal.account, (principal.role.arn, principal.arn))
        context: dict[str, str] = {
            "sts:RoleSessionName": str(call.params.get("RoleSessionName")),
            "aws:PrincipalAccount": caller.account,
            "aws:PrincipalArn": caller.arns[0],
        }
        if call.params.get("ExternalId") is not None:
            context["sts:ExternalId"] = str(call.params["ExternalId"])
        role_arn = str(call.params.get("RoleArn", ""))
        need = Need(ASSUME_ROLE, role_arn, context)
        if principal is not None:
            own = evaluate(principal.role.documents, need)
            if not own.allowed:
                return Denial(who, principal.arn, need, own.reason)
        target = self._sessions.role(role_arn) if self._sessions else None
        if target is None or not trusts(target.trust, caller, need).allowed:
            return Denial(who, caller.arns[-1], need, "not trusted")
        return None

    def _count_denial(self, denial: Denial) -> None:
        label = f"{denial.who} {denial.need.action}"
        log.warning("AccessDenied: %s", denial.message)
        with self._lock:
            self._denied[label] += 1
            self._recent.append(
                {
                    "principal": denial.who,
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


def _root(account: str) -> str:
    """The account itself, as a trust policy names it: its administrator acts as it."""
    return f"arn:{PARTITION}:iam::{account}:root"
