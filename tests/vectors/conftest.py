"""Fixtures of the vector tests."""

from __future__ import annotations

import pytest

from tests.vectors import nodejs


@pytest.fixture(scope="module")
def js_side() -> None:
    """The JS side (node, the npm packages) is there: a failure under CI, a skip elsewhere."""
    nodejs.require_js_side()
