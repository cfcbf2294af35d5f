"""The bench finds each handler where `sam build` puts it: .aws-sam/build/<logical id>/."""

from __future__ import annotations

from samtranslator.yaml_helper import yaml_parse

from bench.coldstart import HANDLERS, logical_id
from tests.unit.builders import ROOT


def test_every_handler_is_benched_under_the_logical_id_that_builds_it() -> None:
    resources = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))["Resources"]
    built = {
        name: resource["Properties"]["CodeUri"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }

    assert sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py")) == sorted(HANDLERS)
    assert {logical_id(h): f"functions/{h}/" for h in HANDLERS} == built
