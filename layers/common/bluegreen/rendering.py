"""Jinja templates shipped in the layer: the approval pages and emails share them.

HTML is autoescaped (a tag or a commit label is never markup); the text parts are not.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("bluegreen", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html",), disabled_extensions=("txt",), default=True
        ),
        keep_trailing_newline=True,
    )


def render(template: str, **values: Any) -> str:
    return _env().get_template(template).render(**values)
