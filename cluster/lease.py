"""One run per output root: a lease, taken before a run writes anything and held while it runs.

The lease is `_lease.json` under the root, created only where nothing is (Store.create: a
conditional PUT on an object store, a hard link on a folder or shared mount). It names its
holder (host, pid, command, when it started) and carries a heartbeat that the holder renews
every `ttl_s / 6` seconds. A second run finds it and is refused, told who holds it and how to
break it. A lease is stale, and the next run takes it over (and says so), when its heartbeat
is older than `ttl_s`, or when its holder ran on this host and that process is gone (a
killed run, rerun at once). By hand: `vidcurate unlock --root ROOT`.

A holder whose lease was taken over (it stalled past the ttl, or someone unlocked it) stops
before its next commit: `Lease.check` raises LeaseLost, which the chunk commits call.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cluster.store import STORE_FAILURES, Store
from cluster.usage import UsageError
from schemas.layout import RUN

log = logging.getLogger(__name__)


class LeaseHeld(UsageError):
    """Another run holds the output root."""


class LeaseLost(RuntimeError):
    """This run's lease was taken over; it must not commit anything more."""


@dataclass
class Lease:
    store: Store
    ttl_s: float
    record: dict
    lost: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(self.lost)

    def renew(self) -> None:
        """One heartbeat: rewrite the record with the time, unless it is no longer ours."""
        current = _read(self.store)
        if current is None or current.get("token") != self.record["token"]:
            self.lost = (
                f"the lease on {self.store.uri()} was taken over ({describe(current) if current else 'removed'}); "
                "this run stopped before committing more"
            )
            log.error("%s", self.lost)
            return
        self.record["heartbeat"] = time.time()
        self.store.write_json(RUN.lease, self.record)

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 6) and not self.lost:
            try:
                self.renew()
            except STORE_FAILURES as exc:  # the run's own writes will fail and say why
                log.warning("lease heartbeat on %s failed: %s", self.store.uri(), exc)


def acquire(store: Store, ttl_s: float, purpose: str) -> Lease:
    """Take the root's lease, or raise LeaseHeld naming its holder."""
    now = time.time()
    record = {
        "token": uuid.uuid4().hex,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_started": _started(os.getpid()),
        "command": purpose,
        "acquired": now,
        "heartbeat": now,
    }
    for _ in range(2):  # a second try after taking over a stale lease
        if store.create(RUN.lease, json.dumps(record, indent=2).encode()):
            return Lease(store, ttl_s, record)
        holder = _read(store)
        if holder is None:
            continue  # released between our create and read
        why = stale(holder, ttl_s)
        if why is None:
            raise LeaseHeld(
                f"output.root {store.uri()} is in use: {describe(holder)}. Wait for that run to finish or use another "
                f"output.root; if that run is gone, its lease expires {ttl_s:.0f}s after its last heartbeat, or "
                f"break it now with: vidcurate unlock --root {store.uri()}"
            )
        log.warning("taking over the lease on %s: %s (%s)", store.uri(), describe(holder), why)
        store.delete([RUN.lease])
    raise LeaseHeld(f"output.root {store.uri()}: another run took the lease while this one was taking it over")


@contextmanager
def held(store: Store, ttl_s: float, purpose: str) -> Iterator[Lease]:
    """The root's lease for the duration of the block, renewed in the background and given
    back at the end."""
    lease = acquire(store, ttl_s, purpose)
    beat = threading.Thread(target=lease._beat, name="vidcurate-lease", daemon=True)
    beat.start()
    unfenced, store.fence = store.fence, lease.check
    try:
        yield lease
    finally:
        store.fence = unfenced
        lease._stop.set()
        beat.join()
        release(lease)


def release(lease: Lease) -> None:
    try:
        current = _read(lease.store)
        if current is not None and current.get("token") == lease.record["token"]:
            lease.store.delete([RUN.lease])
    except STORE_FAILURES as exc:
        log.warning("could not give back the lease on %s (%s); the next run takes it over", lease.store.uri(), exc)


def unlock(store: Store) -> str:
    """Break the root's lease by hand; says whose it was."""
    holder = _read(store)
    if holder is None:
        return f"{store.uri()} holds no lease"
    store.delete([RUN.lease])
    return f"removed the lease of {describe(holder)} from {store.uri()}"


def stale(holder: dict, ttl_s: float) -> str | None:
    """Why the lease `holder` may be taken over, or None while it is live."""
    age = time.time() - float(holder.get("heartbeat", 0))
    if age > ttl_s:
        return f"no heartbeat for {age:.0f}s, over the {ttl_s:.0f}s ttl"
    if holder.get("host") == socket.gethostname() and not _running(holder.get("pid"), holder.get("pid_started")):
        return "its process has ended"
    return None


def describe(holder: dict) -> str:
    age = time.time() - float(holder.get("heartbeat", 0))
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(holder.get("acquired", 0))))
    return (
        f"{holder.get('command', '?')} (pid {holder.get('pid')} on host {holder.get('host')}, since {started}, "
        f"last heartbeat {age:.0f}s ago)"
    )


def _read(store: Store) -> dict | None:
    try:
        return store.read_json(RUN.lease)
    except FileNotFoundError:
        return None


def _running(pid: object, started: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return started is None or _started(pid) == started  # a reused pid is another process


def _started(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def command_line() -> str:
    return " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]])[:500]
