"""`bluegreen config check FILE`: a configuration validated offline, before it is put in place."""

from __future__ import annotations

import json
from pathlib import Path

from bluegreen_cli.main import app
from click.testing import Result
from typer.testing import CliRunner

from tests.unit.builders import SERVICES_FILE
from tests.unit.test_config import PIPELINE

VALID = SERVICES_FILE.read_text()


def check(tmp_path: Path, text: str, *options: str, name: str = "services.toml") -> Result:
    file = tmp_path / name
    file.write_text(text)
    return CliRunner().invoke(app, ["config", "check", str(file), *options])


def test_a_valid_file_lists_each_service_with_where_it_deploys_who_approves_and_timings(
    tmp_path: Path,
) -> None:
    result = check(tmp_path, VALID)

    assert result.exit_code == 0, result.output
    assert "services.toml: valid, 1 service" in result.stdout
    assert "demo-web: demo-web -> local" in result.stdout
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("local ")]
    assert row.split()[:4] == ["local", "demo/web", "codedeploy-bluegreen", "approver@example.com"]
    assert "approval 1h; deployment polled every 1s (at most 120)" in row
    assert "fits an SSM parameter of the Standard tier" in result.stdout


def test_an_invalid_file_exits_2_with_every_problem_named_by_its_field(tmp_path: Path) -> None:
    broken = VALID.replace("probe_interval_seconds = 1", "probe_interval_seconds = 0").replace(
        'cluster = "demo"\n', ""
    )

    result = check(tmp_path, broken)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'services.toml'}: invalid",
        "  services.demo-web.cluster: Field required",
        "  services.demo-web.timings.probe_interval_seconds: "
        "Input should be greater than or equal to 1 (got 0)",
    ]


def test_json_output_for_scripts_valid_and_invalid(tmp_path: Path) -> None:
    valid = check(tmp_path, VALID, "--json")
    invalid = check(tmp_path, "[services.x]\n", "--json", name="bad.toml")

    assert valid.exit_code == 0
    document = json.loads(valid.stdout)
    assert document["valid"] is True
    assert document["ssm_tier"] == "Standard"
    assert document["bytes"] == len(VALID.encode())
    (service,) = document["services"]
    assert (service["name"], service["cluster"], service["service"]) == ("demo-web", "demo", "web")
    assert service["timings"]["probe_required_passes"] == 3
    assert invalid.exit_code == 2
    problems = json.loads(invalid.stdout)
    assert problems["valid"] is False
    assert "services.x.repository: Field required" in problems["problems"]


def test_json_configuration_is_checked_like_toml(tmp_path: Path) -> None:
    import tomllib

    result = check(tmp_path, json.dumps(tomllib.loads(VALID)), name="services.json")

    assert result.exit_code == 0, result.output
    assert "valid, 1 service" in result.stdout


def test_a_document_over_ssms_limits_is_sized_against_each_tier(tmp_path: Path) -> None:
    """SSM Parameter Store: a String value is at most 4 KB (Standard) or 8 KB (Advanced)."""
    padding = "#" + "-" * 99 + "\n"
    advanced = check(tmp_path, VALID + padding * 40)
    too_large = check(tmp_path, VALID + padding * 90)

    assert advanced.exit_code == 0
    assert "Advanced tier (over 4096 bytes)" in advanced.stdout
    assert too_large.exit_code == 2
    assert "over SSM's 8192-byte limit (Advanced tier)" in too_large.stderr
    # The comments make it large: the same document as compact JSON would fit.
    assert "as compact JSON is" in too_large.stderr


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["config", "check", str(tmp_path / "nope.toml")])

    assert result.exit_code == 2
    assert "nope.toml: invalid" in result.stderr
    assert "cannot read it: No such file or directory" in result.stderr


def test_a_pipeline_is_printed_in_order_with_where_how_and_who_for_each_environment(
    tmp_path: Path,
) -> None:
    result = check(tmp_path, PIPELINE)

    assert result.exit_code == 0, result.output
    assert "shop: shop -> dev -> prod" in result.stdout
    rows = {
        line.split()[0]: line for line in result.stdout.splitlines() if line[:4] in ("dev ", "prod")
    }
    assert rows["dev"].split()[1:4] == ["shop-dev/web", "(111111111111)", "rolling"]
    assert "no approval" in rows["dev"]
    assert rows["prod"].split()[1:4] == [
        "shop/web",
        "codedeploy-bluegreen",
        "approver@example.com;",
    ]
    assert "promoted by hand" in rows["prod"]

    document = json.loads(check(tmp_path, PIPELINE, "--json").stdout)
    assert document["pipelines"] == {"shop": ["dev", "prod"]}
    assert [s["environment"] for s in document["services"]] == ["dev", "prod"]
