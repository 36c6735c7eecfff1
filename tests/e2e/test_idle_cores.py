"""A CPU model's threads follow what the machine's other processes use, measured against a
real busy process (the unit layer forbids the waiting this needs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cluster.idle_cores import IdleCores


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs a second core to leave idle or take")
def test_a_busy_neighbour_takes_a_core_and_the_actors_own_work_does_not():
    cores = os.cpu_count() or 1
    idle = IdleCores(limit=cores)
    spin(1.0)
    assert idle() == cores  # its own busy thread is not another process's use
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        assert idle() <= cores - 1
    finally:
        neighbour.kill()
        neighbour.wait()
