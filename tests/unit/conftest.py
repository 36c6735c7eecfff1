"""The unit layer: pure functions only. As in Ray's own unit tests, starting Ray or sleeping
fails the test, so nothing slow or distributed creeps in here; such a test belongs in
tests/e2e."""

from __future__ import annotations

import time

import pytest
import ray


def _refuse(what: str):
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a unit test called {what}; move it to tests/e2e")

    return refuse


@pytest.fixture(autouse=True)
def _no_ray_and_no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "init", _refuse("ray.init"))
    monkeypatch.setattr(time, "sleep", _refuse("time.sleep"))
