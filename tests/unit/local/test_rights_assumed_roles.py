"""STS AssumeRole and the sessions it opens, decided as IAM decides them.

From the IAM User Guide ("Cross-account policy evaluation logic", "IAM role trust
policies") and the STS API reference: to assume a role in another account, the caller's
own policies must allow ``sts:AssumeRole`` on it AND the role's trust policy must trust the
caller (its account, or its ARN), with its conditions (``sts:ExternalId``) holding; STS's
refusal is ``AccessDenied`` naming the caller, the action and the role. Calls made with the
credentials are the role's session's, in the role's account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bluegreen_cli.local.rights import Principal, Rights
from bluegreen_cli.local.rights.assumed import AccountRole, AssumedSession
from bluegreen_cli.local.rights.calls import AwsCall
from bluegreen_cli.local.rights.needs import AccountView
from bluegreen_cli.local.rights.policy import Caller, Need, trusts
from bluegreen_cli.local.rights.roles import PolicySource, Role

APP = "123456789012"
DEV = "111111111111"
TARGET = f"arn:aws:iam::{DEV}:role/bluegreen-deploy"
RENDER_ROLE = f"arn:aws:iam::{APP}:role/bluegreen-RenderFunctionRole"
FUNCTION_KEY = "ASIARENDERFUNCTION01"
NOTIFY_KEY = "ASIANOTIFYFUNCTION01"
SESSION_KEY = "ASIAASSUMEDSESSION01"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust_of(account: str, external_id: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return policy(statement)


def role(arn: str, *documents: Mapping[str, Any]) -> Role:
    return Role(
        arn.rsplit("/", 1)[-1],
        arn,
        tuple(PolicySource("inline", f"p{i}", d) for i, d in enumerate(documents)),
    )


class _View:
    """An account with nothing in it that an ARN depends on."""

    def secret_arn(self, secret_id: str) -> str | None:
        return None

    def deployment_group_of(self, deployment_id: str) -> tuple[str, str] | None:
        return None

    def state_machine_of_token(self, task_token: str) -> str | None:
        return None

    def next_task_definition_revision(self, family: str) -> int:
        return 2

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None:
        return None

    def verified_identities(self) -> set[str]:
        return set()


@dataclass
class _Accounts:
    """The emulated accounts: roles by ARN, and the keys STS handed out."""

    roles: dict[str, AccountRole] = field(default_factory=dict)
    sessions: dict[str, AssumedSession] = field(default_factory=dict)

    def account_of(self, access_key: str) -> str:
        found = self.sessions.get(access_key)
        return found.account if found else APP

    def assumed(self, access_key: str) -> AssumedSession | None:
        return self.sessions.get(access_key)

    def role(self, role_arn: str) -> AccountRole | None:
        return self.roles.get(role_arn)

    def view(self, account_id: str) -> AccountView:
        return _View()


TARGET_POLICY = policy(
    {
        "Effect": "Allow",
        "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
        "Resource": "arn:*:ecs:*:*:service/demo-dev/web",
    }
)


def rights(trust: Mapping[str, Any] | None = None) -> tuple[Rights, _Accounts]:
    accounts = _Accounts()
    if trust is not None:
        accounts.roles[TARGET] = AccountRole(role(TARGET, TARGET_POLICY), trust)
    may_assume = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": TARGET})
    principals = {
        FUNCTION_KEY: Principal(
            "RenderFunction", "bluegreen-RenderFunction", role(RENDER_ROLE, may_assume)
        ),
        NOTIFY_KEY: Principal(
            "NotifyFunction",
            "bluegreen-NotifyFunction",
            role(f"arn:aws:iam::{APP}:role/bluegreen-NotifyFunctionRole"),
        ),
    }
    return Rights(principals, _View(), accounts), accounts


def assume(key: str, external_id: str | None = None, role_arn: str = TARGET) -> AwsCall:
    params = {"RoleArn": role_arn, "RoleSessionName": "bluegreen-RenderFunction"}
    if external_id is not None:
        params["ExternalId"] = external_id
    return AwsCall(key, "sts", "AssumeRole", params, "query")


def test_a_function_allowed_to_assume_a_role_that_trusts_its_account_may() -> None:
    """Cross-account: the caller's identity policy AND the role's trust policy allow it."""
    checked, _ = rights(trust_of(APP))

    assert checked.check(assume(FUNCTION_KEY)) is None


def test_a_function_whose_policies_do_not_allow_assume_role_is_refused() -> None:
    """The role trusts the app's account, but that only delegates to the account's IAM:
    a principal without sts:AssumeRole on the role is refused (STS's AccessDenied)."""
    checked, _ = rights(trust_of(APP))

    denial = checked.check(assume(NOTIFY_KEY))

    assert denial is not None
    assert denial.message == (
        f"User: arn:aws:sts::{APP}:assumed-role/bluegreen-NotifyFunctionRole/"
        f"bluegreen-NotifyFunction is not authorized to perform: sts:AssumeRole on resource: "
        f"{TARGET} because no identity-based policy allows the sts:AssumeRole action"
    )


def test_a_role_that_trusts_another_account_refuses_naming_no_reason() -> None:
    """The trust policy is the other account's: STS says who, what and which role only."""
    checked, _ = rights(trust_of("222222222222"))

    denial = checked.check(assume(FUNCTION_KEY))

    assert denial is not None
    assert denial.message == (
        f"User: arn:aws:sts::{APP}:assumed-role/bluegreen-RenderFunctionRole/"
        f"bluegreen-RenderFunction is not authorized to perform: sts:AssumeRole on resource: "
        f"{TARGET}"
    )


def test_a_role_that_does_not_exist_is_refused_like_one_that_does_not_trust() -> None:
    """STS answers the same AccessDenied whether the role exists or not."""
    checked, _ = rights(trust=None)
    denial = checked.check(assume(FUNCTION_KEY))
    assert denial is not None
    assert denial.message.endswith(f"sts:AssumeRole on resource: {TARGET}")


def test_an_external_id_condition_needs_that_external_id() -> None:
    """sts:ExternalId: the trust's StringEquals holds only for the same value, and a
    request without one has no key to match (a missing key fails a condition)."""
    checked, _ = rights(trust_of(APP, external_id="tenant-42"))

    assert checked.check(assume(FUNCTION_KEY, external_id="tenant-42")) is None
    wrong = checked.check(assume(FUNCTION_KEY, external_id="tenant-43"))
    missing = checked.check(assume(FUNCTION_KEY))
    assert wrong is not None
    assert missing is not None
    assert wrong.reason == missing.reason == "not trusted"


def test_the_administrator_may_assume_any_role_that_trusts_its_account() -> None:
    """An account administrator's policy allows sts:AssumeRole on *; the trust decides."""
    checked, _ = rights(trust_of(APP, external_id="tenant-42"))

    assert checked.check(assume("test", external_id="tenant-42")) is None
    denial = checked.check(assume("test", external_id="nope"))
    assert denial is not None
    assert denial.message == (
        f"User: arn:aws:iam::{APP}:root is not authorized to perform: sts:AssumeRole on "
        f"resource: {TARGET}"
    )


def test_a_sessions_calls_are_authorized_against_the_assumed_roles_policies() -> None:
    """The credentials are a session of the role, in the role's account: its resources'
    ARNs are that account's, and the denial names the assumed-role session."""
    checked, accounts = rights(trust_of(APP))
    accounts.sessions[SESSION_KEY] = AssumedSession(DEV, TARGET, "bluegreen-RenderFunction")

    mine = AwsCall(SESSION_KEY, "ecs", "UpdateService", {"cluster": "demo-dev", "service": "web"})
    other = AwsCall(SESSION_KEY, "ecs", "UpdateService", {"cluster": "demo", "service": "web"})

    assert checked.check(mine) is None
    denial = checked.check(other)
    assert denial is not None
    assert denial.message == (
        f"User: arn:aws:sts::{DEV}:assumed-role/bluegreen-deploy/bluegreen-RenderFunction is "
        f"not authorized to perform: ecs:UpdateService on resource: "
        f"arn:aws:ecs:us-east-1:{DEV}:service/demo/web because no identity-based policy "
        "allows the ecs:UpdateService action"
    )


def test_a_session_may_not_assume_another_role_unless_its_role_allows_it() -> None:
    """Role chaining is a call like any other: the session's own policies decide first."""
    checked, accounts = rights(trust_of(DEV))
    accounts.sessions[SESSION_KEY] = AssumedSession(DEV, TARGET, "s")

    denial = checked.check(assume(SESSION_KEY))

    assert denial is not None
    assert denial.reason == "implicit deny"
    assert denial.caller_arn == f"arn:aws:sts::{DEV}:assumed-role/bluegreen-deploy/s"


def test_the_administrators_other_calls_are_not_checked() -> None:
    checked, _ = rights(trust_of(APP))
    assert checked.principal("test") is None
    assert not checked.governs("test", "ecs")
    assert checked.governs("test", "sts")


def test_a_trust_policy_may_name_the_callers_role_instead_of_its_account() -> None:
    caller = Caller(APP, (RENDER_ROLE, f"arn:aws:sts::{APP}:assumed-role/r/s"))
    need = Need("sts:AssumeRole", TARGET)
    named = policy(
        {"Effect": "Allow", "Principal": {"AWS": [RENDER_ROLE]}, "Action": "sts:AssumeRole"}
    )
    other = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{APP}:role/someone-else"},
            "Action": "sts:AssumeRole",
        }
    )
    by_id = policy({"Effect": "Allow", "Principal": {"AWS": APP}, "Action": "sts:AssumeRole"})
    service = policy(
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "*"}
    )

    assert trusts(named, caller, need).allowed
    assert not trusts(other, caller, need).allowed
    assert trusts(by_id, caller, need).allowed
    assert not trusts(service, caller, need).allowed


def test_an_explicit_deny_in_a_trust_policy_wins() -> None:
    caller = Caller(APP, (RENDER_ROLE,))
    document = policy(
        trust_of(APP)["Statement"][0],
        {"Effect": "Deny", "Principal": {"AWS": RENDER_ROLE}, "Action": "sts:AssumeRole"},
    )
    decision = trusts(document, caller, Need("sts:AssumeRole", TARGET))
    assert (decision.allowed, decision.reason) == (False, "explicit deny")
