"""The cluster tests start five JVMs beside the single-node stack: they run only when asked for
(`-m cluster`), never as part of a plain `pytest` or `make test`."""
from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "cluster" in (config.option.markexpr or ""):
        return
    skipped = [item for item in items if item.get_closest_marker("cluster")]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if not item.get_closest_marker("cluster")]
