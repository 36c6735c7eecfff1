"""The end-to-end layer: real decoders, models, servers, Ray clusters, `ray job submit`, the
jobs' entry points and the browser. Every test here is marked slow."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)
