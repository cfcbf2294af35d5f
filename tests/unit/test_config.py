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


def test_two_services_of_one_repository_are_refused() -> None:
    second = TOML.replace("services.demo-web", "services.demo-web-copy")

    found = problems(TOML + second)

    assert found == [
        "services.demo-web-copy.repository: 'demo-web' is already services.demo-web's; "
        "a push must name one service"
    ]


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
