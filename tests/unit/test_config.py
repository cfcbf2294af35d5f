"""The service configuration: TOML or JSON, each problem named by the path of its field."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from bluegreen.config import ServiceCatalog
from bluegreen.errors import ConfigurationInvalid

from tests.unit.builders import SERVICES_FILE

TOML = SERVICES_FILE.read_text()


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigurationInvalid) as raised:
        ServiceCatalog.parse(text, "services.toml")
    assert raised.value.source == "services.toml"
    return raised.value.problems


def test_toml_and_the_same_document_in_json_describe_the_same_services() -> None:
    from_toml = ServiceCatalog.parse(TOML, "a.toml")
    from_json = ServiceCatalog.parse(json.dumps(tomllib.loads(TOML)), "a.json")

    assert from_toml.services == from_json.services
    assert [s.name for s in from_toml.services] == ["demo-web"]
    assert from_toml.for_repository("demo-web").timings.probe_interval_seconds == 1


def test_a_field_out_of_range_is_named_by_its_path_with_the_value_given() -> None:
    found = problems(TOML.replace("probe_interval_seconds = 1", "probe_interval_seconds = 0"))

    assert found == [
        "services.demo-web.timings.probe_interval_seconds: "
        "Input should be greater than or equal to 1 (got 0)"
    ]


def test_every_problem_is_reported_at_once_missing_unknown_and_invalid() -> None:
    text = (
        TOML.replace('cluster = "demo"\n', "")
        .replace('approvers = ["approver@example.com"]', 'approvers = ["not-an-address"]')
        .replace("[services.demo-web.timings]", "[services.demo-web.timings]\nprobe_intervall = 3")
    )

    found = problems(text)

    assert "services.demo-web.cluster: Field required" in found
    assert any(p.startswith("services.demo-web.approvers.0: String should match") for p in found)
    assert "services.demo-web.timings.probe_intervall: Extra inputs are not permitted" in found
    assert len(found) == 3


def test_a_service_name_that_is_not_a_valid_name_is_named_by_its_key() -> None:
    (found,) = problems(TOML.replace("services.demo-web", 'services."demo web"'))

    assert found.startswith("services.demo web: String should match pattern")


def test_the_name_comes_from_the_key_only() -> None:
    found = problems(TOML.replace('repository = "demo-web"', 'name = "x"\nrepository = "demo-web"'))

    assert found == ["services.demo-web.name: the service's name is its key; remove this field"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[services.a\n", "not valid TOML: "),
        ('{"services": ', "not valid JSON: "),
        ("[other]\nx = 1\n", "other: unknown key (expected only 'services')"),
        ('services = "none"', "services: must be a table of services, keyed by name"),
        ("[services]\na = 1\n", "services.a: must be a table of fields"),
    ],
)
def test_documents_of_the_wrong_shape_say_what_is_wrong(text: str, expected: str) -> None:
    (found,) = problems(text)

    assert found.startswith(expected)


def test_an_empty_configuration_has_no_services_and_refuses_every_repository() -> None:
    catalog = ServiceCatalog.parse("", "empty.toml")

    assert catalog.services == []
    with pytest.raises(Exception, match="not in the service configuration"):
        catalog.for_repository("demo-web")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationInvalid, match=r"missing\.toml: cannot read it"):
        ServiceCatalog.load(tmp_path / "missing.toml")


PIPELINE = """
[services.shop]
repository = "shop"
container = "web"
container_port = 8080

[services.shop.timings]
deployment_poll_seconds = 5

[services.shop.slack]
channel = "#deploys"
approvers = ["U0APPROVER"]

[services.shop.environments.dev]
role_arn = "arn:aws:iam::111111111111:role/bluegreen-deploy"
cluster = "shop-dev"
service = "web"
method = "rolling"
approvers = []

[services.shop.environments.prod]
cluster = "shop"
service = "web"
codedeploy_application = "shop"
deployment_group = "shop"
test_url = "http://shop.test/health"
approvers = ["approver@example.com"]
promotion = "manual"

[services.shop.environments.prod.timings]
probe_interval_seconds = 2
"""


def test_a_pipeline_lists_its_environments_in_order_with_the_shared_fields_merged_in() -> None:
    catalog = ServiceCatalog.parse(PIPELINE, "services.toml")

    dev, prod = catalog.pipeline("shop")

    assert (dev.environment, prod.environment) == ("dev", "prod")
    assert catalog.for_repository("shop") == dev
    assert catalog.named("shop") == prod
    assert catalog.after(dev) == prod
    assert catalog.after(prod) is None
    assert (dev.method, prod.method) == ("rolling", "codedeploy-bluegreen")
    assert (dev.container, prod.container_port) == ("web", 8080)
    assert (dev.account, prod.account) == ("111111111111", None)
    assert prod.promotion == "manual"
    # Timings merge field by field: the service's, then the environment's own.
    assert prod.timings.deployment_poll_seconds == 5
    assert prod.timings.probe_interval_seconds == 2
    assert dev.timings.probe_interval_seconds == 10


def test_an_environment_without_approvers_asks_nobody_in_slack_either() -> None:
    dev, prod = ServiceCatalog.parse(PIPELINE, "services.toml").pipeline("shop")

    assert not dev.needs_approval
    assert dev.slack is not None
    assert dev.slack.approvers == []
    assert prod.needs_approval
    assert prod.slack is not None
    assert prod.slack.approvers == ["U0APPROVER"]


def test_the_same_cluster_and_service_in_two_accounts_are_two_queues() -> None:
    text = PIPELINE.replace('cluster = "shop-dev"', 'cluster = "shop"')
    dev, prod = ServiceCatalog.parse(text, "services.toml").pipeline("shop")

    assert dev.lock_key == "111111111111:shop/web"
    assert prod.lock_key == "shop/web"


def test_each_problem_names_the_service_environment_and_field() -> None:
    text = (
        PIPELINE.replace('method = "rolling"\n', 'method = "rollin"\n')
        .replace('test_url = "http://shop.test/health"\n', "")
        .replace('role_arn = "arn:aws:iam::111111111111:role/bluegreen-deploy"', 'role_arn = "x"')
    )

    found = problems(text)

    assert any(
        p.startswith("services.shop.environments.dev.method: Input should be") for p in found
    )
    assert any(
        p.startswith("services.shop.environments.dev.role_arn: String should") for p in found
    )
    assert any(
        p.startswith(
            "services.shop.environments.prod: Value error, method 'codedeploy-bluegreen' "
            "needs test_url"
        )
        for p in found
    ), found
    assert len(found) == 3


def test_a_shared_field_problem_is_reported_once_where_it_was_written() -> None:
    found = problems(PIPELINE.replace("container_port = 8080", "container_port = 0"))

    assert len(found) == 1
    assert found[0].startswith("services.shop.container_port: Input should be")


def test_a_target_field_beside_environments_is_said_to_belong_to_one() -> None:
    found = problems(PIPELINE.replace('container = "web"', 'container = "web"\ncluster = "x"'))

    assert found == [
        "services.shop.cluster: belongs to an environment (under services.shop.environments.<name>)"
    ]


def test_approvers_must_be_said_even_when_nobody_approves() -> None:
    found = problems(PIPELINE.replace("approvers = []\n", ""))

    assert found == ["services.shop.environments.dev.approvers: Field required"]
