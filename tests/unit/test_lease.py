"""One run per output root: a second run is refused and told who holds the root; a dead or
silent holder's lease is taken over; a run whose lease was taken commits nothing more."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from cluster.lease import LeaseHeld, LeaseLost, acquire, held, unlock
from cluster.progress import ChunkLedger
from cluster.store import Store


def _holder(store: Store, **changes: object) -> None:
    record = {
        "token": "someone",
        "host": "elsewhere",
        "pid": 1,
        "command": "vidcurate run",
        "acquired": time.time(),
        "heartbeat": time.time(),
    }
    store.write_json("_lease.json", {**record, **changes})


def test_a_second_run_is_refused_naming_the_holder_and_the_way_out(tmp_path):
    store = Store(str(tmp_path / "out"))
    with held(store, 60, "vidcurate run --config a.yaml"):
        with pytest.raises(LeaseHeld) as refused:
            acquire(Store(str(tmp_path / "out")), 60, "vidcurate run --config b.yaml")
        message = str(refused.value)
        assert "is in use: vidcurate run --config a.yaml" in message
        assert f"vidcurate unlock --root {store.uri()}" in message and "expires 60s after" in message
    assert not store.exists("_lease.json"), "the lease is given back at the end"
    with held(store, 60, "third"):
        pass


def test_a_lease_whose_process_ended_on_this_host_is_taken_over_at_once(tmp_path):
    import socket

    store = Store(str(tmp_path / "out"))
    ended = subprocess.Popen(["true"])
    ended.wait()
    _holder(store, host=socket.gethostname(), pid=ended.pid)
    lease = acquire(store, 60, "rerun")
    assert store.read_json("_lease.json")["token"] == lease.record["token"]


def test_a_lease_silent_past_its_ttl_is_taken_over_and_a_live_one_elsewhere_is_not(tmp_path):
    store = Store(str(tmp_path / "out"))
    _holder(store, heartbeat=time.time() - 30)
    with pytest.raises(LeaseHeld, match="pid 1 on host elsewhere"):
        acquire(store, 60, "rerun")
    _holder(store, heartbeat=time.time() - 90)
    acquire(store, 60, "rerun")


def test_a_run_whose_lease_was_broken_commits_nothing_more(tmp_path):
    store = Store(str(tmp_path / "out"))
    with held(store, 60, "first") as lease:
        assert "removed the lease of first" in unlock(Store(str(tmp_path / "out")))
        acquire(Store(str(tmp_path / "out")), 60, "second")
        lease.renew()  # the heartbeat finds the lease is no longer its own
        ledger = ChunkLedger(store, "segment", {}, ("candidates",))
        ledger.committed({0: ["a"]})
        with pytest.raises(LeaseLost, match="taken over"):
            ledger.commit(0, ["a"], {"rows": 0})
    assert not store.exists("_progress/segment/c00000.json")
    assert json.loads((tmp_path / "out" / "_lease.json").read_text())["command"] == "second"
