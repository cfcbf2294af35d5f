"""The README's table of rights is the template's: what a reader trusts is what deploys."""

from __future__ import annotations

import re

from bluegreen_cli.local.rights.table import grants, markdown

from tests.unit.local.localstack_support import PROJECT_ROOT


def test_the_readme_lists_exactly_the_rights_the_template_grants() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    found = re.search(r"<!-- rights:begin -->\n(.*?)<!-- rights:end -->", readme, re.DOTALL)
    assert found, "the README has a rights table between its markers"
    assert found.group(1) == markdown(grants(PROJECT_ROOT / "template.yaml")), (
        "README.md's table differs from the template: update it with `bluegreen local rights`"
    )


def test_a_conditional_grant_shows_its_condition() -> None:
    render = [g for g in grants(PROJECT_ROOT / "template.yaml") if g.principal == "RenderFunction"]
    tag = next(g for g in render if g.actions == ("ecs:TagResource",))
    assert tag.condition == "ecs:CreateAction StringEquals RegisterTaskDefinition"
