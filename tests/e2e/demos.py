"""A running demo election (:func:`experiments.load.start_demo`) shared by one module's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from experiments.load import Demo, start_demo


def demo_fixture(voters: int) -> Callable[..., Iterator[Demo]]:
    """A module-scoped fixture: a demo test election with ``voters`` voters, stopped at the end."""

    @pytest.fixture(scope="module")
    def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
        running = start_demo(voters, data=tmp_path_factory.mktemp("demo"))
        try:
            yield running
        finally:
            running.stop()

    return demo
