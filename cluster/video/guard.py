"""Decoding in a child process: a native crash (segfault, abort) or a hang inside FFmpeg or
decord ends one call with an error instead of killing or stalling the Ray worker.

Each worker process keeps one child with the decoders already imported, so a call costs a
pipe round trip rather than a process start. A call that
crashes the child or overruns its time limit is retried on a fresh child a bounded number
of times, then raised as DecoderCrashed / DecoderTimeout for the stage to record.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

STARTUP_S = 120


class DecoderCrashed(RuntimeError):
    """The decoder process died (a native crash) on this input."""


class DecoderTimeout(TimeoutError):
    """The decoder did not finish within its time limit on this input."""


@dataclass(frozen=True)
class GuardSettings:
    isolate: bool = True
    timeout_s: float = 120.0  # per call, plus per_second for each second of video it reads
    per_second: float = 1.0
    retries: int = 1
    inject_faults: dict[str, str] = field(default_factory=dict)  # uri substring -> crash | hang | bug (chaos tests)

    def limit(self, seconds_of_video: float = 0.0) -> float:
        return self.timeout_s + self.per_second * max(seconds_of_video, 0.0)


_child: _Child | None = None


def guarded(settings: GuardSettings, uri: str, seconds_of_video: float, fn, *args):
    """fn(*args) in the decoder child (or in-process when isolation is off); exceptions
    raised by fn come back as they are."""
    fault = next((kind for part, kind in settings.inject_faults.items() if part in uri), None)
    if not settings.isolate:
        return _call(fault, fn, args)
    limit = settings.limit(seconds_of_video)
    problem: Exception | None = None
    for attempt in range(settings.retries + 1):
        global _child  # noqa: PLW0603 - one decoder child per worker process, reused across calls
        if _child is None or not _child.alive():
            _child = _Child()
        try:
            return _child.run(fault, fn, args, limit)
        except _Lost as lost:
            if lost.timed_out:
                problem = DecoderTimeout(
                    f"{uri}: the decoder did not finish within {limit:.0f}s (attempt {attempt + 1})"
                )
            else:
                problem = DecoderCrashed(
                    f"{uri}: the decoder process died (attempt {attempt + 1}); the file is likely corrupt"
                )
        log.warning("%s; starting a fresh decoder process", problem)
        _child.kill()
        _child = None
    assert problem is not None, "retries >= 0, so the loop ran and set it"
    raise problem


class _Lost(Exception):
    def __init__(self, timed_out: bool):
        self.timed_out = timed_out


class _Child:
    """One decoder process (`python -m cluster.video.guard`) fed over two pipes. A fresh
    interpreter, not a fork: nothing of the Ray worker (its threads, its main module) is
    inherited or re-imported."""

    def __init__(self):
        to_child, child_in = os.pipe()
        child_out, from_child = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cluster.video.guard", str(to_child), str(from_child)],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self.requests = Connection(child_in, readable=False)
        self.replies = Connection(child_out, writable=False)
        # a call's time limit counts decoding only, not the child's start
        if not self.replies.poll(STARTUP_S):
            self.kill()
            raise RuntimeError(f"the decoder process did not start within {STARTUP_S}s")
        self.replies.recv()

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, fault: str | None, fn, args, limit: float):
        try:
            self.requests.send((fault, fn, args))
            if not self.replies.poll(limit):
                raise _Lost(timed_out=True)
            ok, value = self.replies.recv()
        except (EOFError, OSError) as exc:
            raise _Lost(timed_out=False) from exc
        if ok:
            return value
        raise value

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self.requests.close()
        self.replies.close()


def _serve(requests: Connection, replies: Connection) -> None:
    replies.send("ready")
    while True:
        try:
            fault, fn, args = requests.recv()
        except EOFError:
            return
        try:
            reply = (True, _call(fault, fn, args))
        except Exception as exc:  # noqa: BLE001 - the child hands every exception back; the caller decides
            reply = (False, exc)
        try:
            replies.send(reply)
        except Exception as exc:  # noqa: BLE001 - pickling a result or exception can raise anything
            replies.send((False, RuntimeError(f"decoder result could not be returned: {exc!r}")))


def _call(fault: str | None, fn, args):
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "hang":
        time.sleep(3600)
    if fault == "bug":  # stands for a mistake in vidcurate's own code, not in the input
        raise KeyError(f"injected bug: no column {fn.__name__!r}")
    return fn(*args)


if __name__ == "__main__":
    # what decoding calls need (shots brings decode, probe and the detectors), loaded before "ready"
    import cluster.video.shots  # noqa: F401

    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
