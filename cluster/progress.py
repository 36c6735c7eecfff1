"""Chunk commits, so an interrupted run resumes without redoing or duplicating work, on a
local folder and on an object store alike (where a rename neither exists nor is atomic).

A pass splits its work into numbered chunks. A chunk's data files are written straight to
their folders under names unique to the attempt (`part-c00007-<attempt>-00000.parquet`);
then its marker `_progress/<pass>/c00007.json`, written last, records the ids the chunk
covers, the config digest, the chunk's outcome and exactly the files that make it.
Readers read only the files markers list. On the next run, markers that no longer match
are deleted, and so is every file in the pass's folders that no marker lists (what a killed
attempt left), so a kill at any instant leaves nothing half-counted.

A whole-dataset step (select) commits the same way with one marker, `_progress/<step>.json`;
a chunked pass that finishes writes `_progress/<pass>.json` too, so the next pass knows it ran.

Chunks committed under other settings (another digest) are not discarded silently: the
ledger records each digest's settings (`_progress/settings/<pass>-<digest>.json`) and, unless
the run may replace earlier output (`--replace`), refuses with what changed. Every commit
first calls the store's fence, so a run that lost its lease on the root commits nothing more.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import pyarrow as pa

from cluster.sink import ShardWriter
from cluster.store import Store
from cluster.usage import UsageError
from schemas.digest import differences, settings_digest
from schemas.layout import RUN
from schemas.tables import BUG_REASON

K = TypeVar("K", bound=Hashable)


def attempt_token() -> str:
    return uuid.uuid4().hex[:8]


class TooManyBugs(RuntimeError):
    """More of a pass's inputs failed on a bug of ours than errors.max_fraction allows."""


@dataclass
class BugBudget:
    """How many of a pass's `inputs` may fail on a bug of ours: rows marked BUG_REASON,
    which stages make only when errors.max_fraction is above 0. One input more stops the
    pass before the chunk holding it is committed."""

    max_fraction: float
    inputs: int
    failed: dict[Hashable, dict] = field(default_factory=dict)

    def check(self, key: Hashable, row: dict) -> None:
        if row.get("reason") != BUG_REASON:
            return
        self.failed.setdefault(key, row)
        allowed = math.floor(self.max_fraction * self.inputs)
        if len(self.failed) > allowed:
            first = next(iter(self.failed.values()))
            raise TooManyBugs(
                f"{len(self.failed)} of {self.inputs} inputs failed on a bug in vidcurate, more than "
                f"errors.max_fraction={self.max_fraction} allows ({allowed}); the first, in {first['stage']}: "
                f"{first['error_type']}: {first['error_message']} (its traceback is in the worker's log). "
                "Nothing of the chunk holding it was committed; please report the bug"
            )


class ChunkCollector(Generic[K]):
    """Rows that stream in, in any order, grouped by the chunk their key belongs to: each
    chunk goes to `commit` (its rows by key) as soon as every key of it is `complete`.
    Each row is first counted against `budget`."""

    def __init__(
        self,
        todo: dict[int, list[K]],
        key: Callable[[dict], K],
        complete: Callable[[list[dict]], bool],
        commit: Callable[[int, dict[K, list[dict]]], None],
        budget: BugBudget,
    ):
        self.key, self.complete, self.commit, self.budget = key, complete, commit, budget
        self.chunk_of = {k: c for c, keys in todo.items() for k in keys}
        self.rows: dict[int, dict[K, list[dict]]] = {c: {k: [] for k in keys} for c, keys in todo.items()}

    def add(self, rows: Iterable[dict]) -> None:
        touched = []
        for row in rows:
            key = self.key(row)
            self.budget.check(key, row)
            self.rows[self.chunk_of[key]][key].append(row)
            touched.append(self.chunk_of[key])
        for chunk in dict.fromkeys(touched):
            self._commit_if_complete(chunk)

    def commit_complete(self) -> None:
        """Commit the chunks already complete (those that needed no work)."""
        for chunk in list(self.rows):
            self._commit_if_complete(chunk)

    def pending(self) -> list[int]:
        """The chunks not committed yet."""
        return list(self.rows)

    def incomplete(self) -> list[K]:
        return [k for rows in self.rows.values() for k, got in rows.items() if not self.complete(got)]

    def _commit_if_complete(self, chunk: int) -> None:
        if chunk in self.rows and all(self.complete(got) for got in self.rows[chunk].values()):
            self.commit(chunk, self.rows.pop(chunk))


class SettingsChanged(UsageError):
    """The root holds output committed under other settings, and this run may not replace it."""


class ChunkLedger:
    def __init__(self, store: Store, name: str, settings: dict, folders: tuple[str, ...], replace: bool = False):
        self.store, self.name, self.folders, self.replace = store, name, folders, replace
        self.settings = json.loads(json.dumps(settings))  # as read back from a marker: lists, not tuples
        self.digest = settings_digest(settings)
        self.markers = posixpath.join(RUN.progress, name)
        self.attempt = attempt_token()
        self._writers: dict[int, list[ShardWriter]] = {}

    def committed(self, expected_ids: dict[int, list[str]]) -> dict[int, dict]:
        """Outcomes of the chunks already committed for exactly these ids under these
        settings; everything else (other markers, files no kept marker lists) is removed.
        Raises SettingsChanged, removing nothing, when chunks were committed under other
        settings and the ledger may not replace them."""
        done: dict[int, dict] = {}
        listed: set[str] = set()
        stale = []
        others = set()
        for marker in self.store.files(self.markers, ".json"):
            record = self.store.read_json(marker)
            chunk = record["chunk"]
            if record["digest"] == self.digest and expected_ids.get(chunk) == record["ids"]:
                done[chunk] = record["outcome"]
                listed.update(record["files"])
            else:
                stale.append(marker)
                if record["digest"] != self.digest:
                    others.add(record["digest"])
        if others and not self.replace:
            raise SettingsChanged(self._refusal(sorted(others)[0], len(stale)))
        self.store.delete(stale + [self._settings(d) for d in others if self.store.exists(self._settings(d))])
        for folder in self.folders:
            self.store.delete([f for f in self.store.files(folder) if f not in listed])
        self.store.write_json(self._settings(self.digest), self.settings)
        return done

    def _settings(self, digest: str) -> str:
        return posixpath.join(RUN.progress, "settings", f"{self.name}-{digest}.json")

    def _refusal(self, digest: str, chunks: int) -> str:
        if self.store.exists(self._settings(digest)):
            changes = differences(self.store.read_json(self._settings(digest)), self.settings)
            what = "; ".join(changes[:8]) + (f"; and {len(changes) - 8} more" if len(changes) > 8 else "")
        else:
            what = "settings of an earlier vidcurate version"
        return (
            f"{self.store.uri()} holds {chunks} chunks of the {self.name} pass made under other settings ({what}); "
            "this run would replace them. Rerun with --replace (output.replace: true) to replace them, or give "
            "another output.root"
        )

    def writer(self, chunk: int, folder: str, schema: pa.Schema, rows_per_shard: int) -> ShardWriter:
        writer = ShardWriter(self.store, folder, schema, rows_per_shard, prefix=f"part-c{chunk:05d}-{self.attempt}")
        self._writers.setdefault(chunk, []).append(writer)
        return writer

    def commit(self, chunk: int, ids: list[str], outcome: dict) -> None:
        """Write the chunk's marker, listing every file its writers wrote (all closed by now)."""
        files = sorted(f for w in self._writers.pop(chunk, []) for f in w.files)
        self.store.fence()
        record = {"chunk": chunk, "digest": self.digest, "ids": ids, "outcome": outcome, "files": files}
        self.store.write_text(posixpath.join(self.markers, f"c{chunk:05d}.json"), json.dumps(record))


def committed_files(store: Store, name: str, folder: str) -> list[str]:
    """The files of `folder` that the committed chunks of pass `name` list."""
    prefix = folder.rstrip("/") + "/"
    files = (f for m in store.files(posixpath.join(RUN.progress, name), ".json") for f in store.read_json(m)["files"])
    return sorted(f for f in files if f.startswith(prefix))


def step_digest(store: Store, upstream: str, settings: dict) -> str:
    """Identity of a whole-dataset step's inputs: the upstream pass's chunk markers, as one
    listing shows them (a marker is written whole each time its chunk is committed, so its
    size and ETag or modification time change with it), and the step's own settings. No
    marker is read, so deciding that nothing changed costs one listing."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    h.update(json.dumps(store.stamps(posixpath.join(RUN.progress, upstream), ".json")).encode())
    return h.hexdigest()


def step_marker(step: str) -> str:
    """The marker a finished pass or step writes: `_progress/<step>.json`."""
    return posixpath.join(RUN.progress, f"{step}.json")


def record_pass(store: Store, name: str, chunks: dict, rows: int) -> None:
    """Mark a chunked pass finished (an empty manifest has no chunk markers to show it),
    with the rows its committed chunks hold."""
    store.fence()
    store.write_json(step_marker(name), {"chunks": chunks, "rows": rows})


def pass_rows(store: Store, name: str) -> int | None:
    """The rows a finished pass committed (None for a marker written before they were recorded)."""
    return store.read_json(step_marker(name)).get("rows")


def has_run(store: Store, name: str) -> bool:
    """Whether pass or step `name` has finished in this root."""
    return store.exists(step_marker(name))


def step_is_current(store: Store, step: str, digest: str) -> bool:
    marker = step_marker(step)
    return store.exists(marker) and store.read_json(marker)["digest"] == digest


def step_files(store: Store, step: str) -> list[str]:
    """The files the step's marker lists (none before the step first ran)."""
    marker = step_marker(step)
    return store.read_json(marker)["files"] if store.exists(marker) else []


def record_step(store: Store, step: str, digest: str, folder: str, files: list[str]) -> None:
    """Commit a step: its marker lists `files`; then the folder's other files are deleted."""
    store.fence()
    store.write_json(step_marker(step), {"digest": digest, "files": sorted(files)})
    listed = set(files)
    store.delete([f for f in store.files(folder) if f not in listed])
