"""Acting in another account: the environment's role, assumed once per warm container.

The wiring's target adapters act through STS AssumeRole when the environment names a role
(moto keeps resources per account, and credentials from AssumeRole belong to the role's
account); the app's own adapters (the state table, ECR...) stay in its own account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from bluegreen import wiring
from bluegreen.adapters.sessions import assumed_session, session_name
from moto.sts.models import sts_backends

from tests.unit.builders import ACCOUNT, REGION, Aws, create_ecs_service, demo_service

DEV_ACCOUNT = "111111111111"
DEV_ROLE = f"arn:aws:iam::{DEV_ACCOUNT}:role/bluegreen-deploy"
DEV = demo_service(environment="dev", role_arn=DEV_ROLE, cluster="demo-dev", method="rolling")


@pytest.fixture
def wired(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "bluegreen-RenderFunction-Ab12Cd34")
    for cached in vars(wiring).values():
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()
    yield aws
    for cached in vars(wiring).values():
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def dev_account_clients() -> Any:
    """The development account's own ECS, as its administrator sees it (moto: credentials
    from AssumeRole belong to the role's account)."""
    sts = boto3.client("sts", region_name=REGION)
    admin = f"arn:aws:iam::{DEV_ACCOUNT}:role/admin"
    answer = sts.assume_role(RoleArn=admin, RoleSessionName="admin")
    credentials = answer["Credentials"]
    return boto3.client(
        "ecs",
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def assumed(role_arn: str = DEV_ROLE) -> list[Any]:
    """The sessions STS handed out for ``role_arn`` (moto keeps them in the role's account)."""
    return [r for r in sts_backends[DEV_ACCOUNT]["aws"].assumed_roles if r.role_arn == role_arn]


def test_an_environment_with_a_role_is_acted_on_in_the_roles_account(wired: Aws) -> None:
    """STS AssumeRole: the credentials act in the role's account; the service there is
    found, none of the app's own account is touched."""
    dev_ecs = dev_account_clients()
    create_ecs_service(dev_ecs, DEV)

    current = wiring.task_definitions(DEV).current("demo-dev", "web")

    assert current["taskDefinitionArn"].startswith(f"arn:aws:ecs:{REGION}:{DEV_ACCOUNT}:")
    assert wired.client("ecs").list_clusters()["clusterArns"] == []  # the app's account
    (session,) = assumed()
    assert session.session_name == "bluegreen-RenderFunction-Ab12Cd34"
    assert session.external_id is None


def test_the_role_is_assumed_once_per_role_external_id_and_region(wired: Aws) -> None:
    create_ecs_service(dev_account_clients(), DEV)

    wiring.task_definitions(DEV).current("demo-dev", "web")
    wiring.task_definitions(DEV).current("demo-dev", "web")
    wiring.deployments(DEV)  # the same session: no second AssumeRole
    with_id = DEV.model_copy(update={"external_id": "tenant-42"})
    wiring.task_definitions(with_id).current("demo-dev", "web")

    sessions = assumed()
    assert [s.external_id for s in sessions] == [None, "tenant-42"]


def test_the_apps_own_environment_is_acted_on_with_the_functions_credentials(
    wired: Aws,
) -> None:
    own = demo_service()
    create_ecs_service(wired.client("ecs"), own)

    current = wiring.task_definitions(own).current(own.cluster, own.service)

    assert current["taskDefinitionArn"].startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:")
    assert all(not backend.assumed_roles for backend in sts_backends[ACCOUNT].values())


def test_an_environments_region_is_where_its_clients_go(wired: Aws) -> None:
    elsewhere = DEV.model_copy(update={"region": "eu-west-1"})

    client: Any = wiring.task_definitions(elsewhere)._ecs
    own_account: Any = wiring.deployments(demo_service(region="ap-south-1"))._cd

    assert client.meta.region_name == "eu-west-1"
    assert own_account.meta.region_name == "ap-south-1"
    assert wiring.scalable_targets(demo_service())._aas.meta.region_name == REGION


def test_a_session_name_is_what_sts_accepts() -> None:
    """RoleSessionName: 2 to 64 characters of [\\w+=,.@-]."""
    assert session_name("bluegreen-RenderFunction-Ab12Cd34") == "bluegreen-RenderFunction-Ab12Cd34"
    assert session_name("bluegreen cli", "jo:smith") == "bluegreen-cli-jo-smith"
    long = session_name("x" * 100)
    assert len(long) == 64
    assert session_name("") == "bluegreen"


class _Sts:
    """STS's AssumeRole answering credentials that expire ``lasting`` after each call."""

    def __init__(self, lasting: timedelta) -> None:
        self.lasting = lasting
        self.calls: list[Mapping[str, Any]] = []

    def assume_role(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls.append(kwargs)
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{n:016d}",
                "SecretAccessKey": f"secret-{n}",
                "SessionToken": f"token-{n}",
                "Expiration": datetime.now(UTC) + self.lasting,
            }
        }


def test_credentials_are_fetched_on_first_use_and_kept_while_they_are_fresh() -> None:
    sts = _Sts(timedelta(hours=1))
    session = assumed_session(sts, DEV_ROLE, "bluegreen-Render", "tenant-42", "eu-west-1")
    assert sts.calls == []  # nothing asked before a client needs credentials

    first = session.get_credentials().get_frozen_credentials()  # type: ignore[union-attr]
    again = session.get_credentials().get_frozen_credentials()  # type: ignore[union-attr]

    assert first.access_key == again.access_key == "ASIA0000000000000001"
    assert sts.calls == [
        {"RoleArn": DEV_ROLE, "RoleSessionName": "bluegreen-Render", "ExternalId": "tenant-42"}
    ]
    assert session.region_name == "eu-west-1"


def test_credentials_about_to_expire_are_refreshed_before_they_are_used() -> None:
    """botocore's refreshable credentials: within 10 minutes of expiry, a refresh is
    mandatory before the next use."""
    sts = _Sts(timedelta(minutes=5))
    session = assumed_session(sts, DEV_ROLE, "bluegreen-Render")

    first = session.get_credentials().get_frozen_credentials()  # type: ignore[union-attr]
    second = session.get_credentials().get_frozen_credentials()  # type: ignore[union-attr]

    assert (first.access_key, second.access_key) == (
        "ASIA0000000000000001",
        "ASIA0000000000000002",
    )
    assert all("ExternalId" not in call for call in sts.calls)
