"""A copy of this project with one change to its template: what a user's fork would deploy."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_project(root: Path, replace: str, by: str) -> Path:
    """The project's code under ``root``, its template with ``replace`` (found once) -> ``by``."""
    for part in ("functions", "layers", "statemachine"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    template = (ROOT / "template.yaml").read_text()
    assert template.count(replace) == 1, f"the template holds {replace!r} exactly once"
    (root / "template.yaml").write_text(template.replace(replace, by))
    return root
