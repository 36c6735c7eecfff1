"""How the stages reach an input: a local file checked where it is read (sources.read), or
a remote object fetched once per node into a cache that every stage of the run's worker
processes on that node shares.

The cache is a folder per node and job, `<tmp>/vidcurate-cache-<job>`, holding fetched
inputs up to input.remote.cache_bytes, least recently used out first. Its processes agree
through file locks: one fetches an input while the others wait for it (`<key>.fetch`), each
holds a shared lock on an input while it reads it (`<key>.use`), so eviction removes only
inputs nobody reads, and each holds a shared lock on `.alive` for as long as it lives. When
a run ends, the driver sweeps every node (sweep_caches): the run's own folder goes, and so
does any folder whose processes have all ended (a killed run's).
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import ray

from cluster.admission import InputPolicy
from cluster.sources import Source, fetch, identify, local_source
from cluster.storage import InputChanged, InputUnavailable, RemoteLimits, is_remote
from cluster.video.guard import DecoderTimeout, GuardSettings, guarded

CACHE_PREFIX = "vidcurate-cache-"


@dataclass(frozen=True)
class InputAccess:
    """What a stage needs to read inputs: where they may come from, the remote limits, and
    the decoder guard its reads and fetches run under."""

    policy: InputPolicy
    remote: RemoteLimits
    guard: GuardSettings


def input_access(cfg, output_root: str) -> InputAccess:
    """The run's InputAccess, from its config."""
    return InputAccess(cfg.input.policy(output_root), cfg.input.remote.limits(), cfg.decoder.guard())


@contextmanager
def opened(uri: str, access: InputAccess, identity: str | None = None) -> Iterator[Source]:
    """The input for the decoder child to read, with its identity: a local file checked here
    first (so a refused or changed input fails before any decode), or this node's copy of a
    remote one. `identity` is what an earlier read recorded (None on the first)."""
    if not is_remote(uri):
        source = local_source(uri, access.policy, identity)
        yield replace(source, identity=identify(source))
        return
    with _cache().copy(uri, access, identity) as source:
        yield source


class NodeCache:
    def __init__(self, folder: str):
        self.folder = folder
        self._alive: int | None = None

    @contextmanager
    def copy(self, uri: str, access: InputAccess, identity: str | None) -> Iterator[Source]:
        self._join()
        base = os.path.join(self.folder, hashlib.sha256(uri.encode()).hexdigest()[:32])
        fetching = _lock(base + ".fetch", fcntl.LOCK_EX)
        try:
            held = self._current(base, uri, access, identity)
            using = _lock(base + ".use", fcntl.LOCK_SH)
        finally:
            os.close(fetching)
        try:
            if identity is not None and held != identity:
                raise InputChanged(
                    f"{uri} changed since it was probed (size:etag {identity} -> {held}); "
                    "rerun into a new output root to re-probe it"
                )
            yield Source(uri, base + ".data", None, held)
        finally:
            os.close(using)
            self._trim(access.remote.cache_bytes)

    def _join(self) -> None:
        """Hold `.alive` for as long as this process lives (again, after a sweep removed it)."""
        alive = os.path.join(self.folder, ".alive")
        if self._alive is not None and os.path.exists(alive):
            return
        os.makedirs(self.folder, exist_ok=True)
        if self._alive is not None:
            os.close(self._alive)
        self._alive = _lock(alive, fcntl.LOCK_SH)

    def _current(self, base: str, uri: str, access: InputAccess, identity: str | None) -> str:
        """The identity of this node's copy of `uri`, fetched first when there is none or it
        is not the one probed. The caller holds the entry's fetch lock."""
        data, known = base + ".data", base + ".identity"
        if os.path.exists(data) and os.path.exists(known):
            with open(known) as f:
                held = f.read()
            if identity in (None, held):
                os.utime(data)  # recently used
                return held
        partial = f"{base}.part-{os.getpid()}"
        # the whole fetch runs in the decoder child, under the guard's limit for it
        limit = replace(access.guard, timeout_s=access.remote.fetch_timeout_s, per_second=0.0)
        try:
            held = guarded(limit, uri, 0.0, fetch, uri, partial, access.remote)
        except DecoderTimeout as exc:
            _remove(partial)
            raise InputUnavailable(
                f"{uri}: fetching it took over input.remote.fetch_timeout_s={access.remote.fetch_timeout_s:g}s"
            ) from exc
        except BaseException:
            _remove(partial)
            raise
        os.replace(partial, data)
        with open(known, "w") as f:  # last: a copy without it is fetched again
            f.write(held)
        return held

    def _trim(self, capacity: int) -> None:
        """Evict the least recently used copies nobody is reading until the rest fit."""
        copies = []
        for path in glob.glob(os.path.join(self.folder, "*.data")):
            try:
                st = os.stat(path)
            except FileNotFoundError:  # another process evicted it meanwhile
                continue
            copies.append((st.st_mtime, st.st_size, path.removesuffix(".data")))
        total = sum(size for _, size, _ in copies)
        for _, size, base in sorted(copies):
            if total <= capacity:
                return
            if _evict(base):
                total -= size


def _lock(path: str, kind: int) -> int:
    """A descriptor of `path` (created if need be) holding a flock of `kind`."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, kind)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _evict(base: str) -> bool:
    """Remove a copy if no process fetches or reads it now."""
    held: list[int] = []
    try:
        for lock in (base + ".fetch", base + ".use"):
            held.append(_lock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB))
        _remove(base + ".identity")
        _remove(base + ".data")
        return True
    except BlockingIOError:
        return False
    finally:
        for fd in held:
            os.close(fd)


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


_node_cache: NodeCache | None = None


def _cache() -> NodeCache:
    global _node_cache  # noqa: PLW0603 - one handle per process on the node's shared cache
    if _node_cache is None:
        _node_cache = NodeCache(os.path.join(tempfile.gettempdir(), CACHE_PREFIX + _job()))
    return _node_cache


def _job() -> str:
    return ray.get_runtime_context().get_job_id() if ray.is_initialized() else "local"


def sweep_caches(job: str) -> int:
    """Remove this node's cache folder of job `job`, and those no live process holds;
    returns how many were removed."""
    removed = 0
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), CACHE_PREFIX + "*")):
        if folder.endswith(CACHE_PREFIX + job) or not _held(os.path.join(folder, ".alive")):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _held(alive: str) -> bool:
    """Whether a live process holds the cache whose `.alive` file this is."""
    try:
        fd = _lock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    os.close(fd)
    return False
