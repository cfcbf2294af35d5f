"""The end-to-end tests' stack: `bluegreen local serve --sample`, one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import serve


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with serve() as running:
        yield running
