"""Chunk commits, so an interrupted run resumes without redoing or duplicating work.

A pass splits its work into numbered chunks. A chunk's files are written to
`_staging/<pass>/c<N>/` and moved into the output folders as `part-c<N>-*.parquet`; then
a marker `_progress/<pass>/c<N>.json` records the ids the chunk covers, the config digest
and the chunk's outcome. Only a marker makes a chunk committed: on the next run, files of
chunks without a (matching) marker are deleted and the chunk is redone, and staging is
cleared, so a kill at any instant leaves nothing half-counted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from cluster.sink import ShardWriter


def chunk_prefix(chunk: int) -> str:
    return f"part-c{chunk:05d}"


class ChunkLedger:
    def __init__(self, out_root: Path, name: str, digest: str, folders: tuple[str, ...]):
        self.out_root = out_root
        self.markers = out_root / "_progress" / name
        self.staging = out_root / "_staging" / name
        self.digest = digest
        self.folders = folders

    def committed(self, expected_ids: dict[int, list[str]]) -> dict[int, dict]:
        """Outcomes of the chunks already committed for exactly these ids under this
        config; everything else (stale files, staging, other markers) is removed."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.markers.mkdir(parents=True, exist_ok=True)
        done: dict[int, dict] = {}
        for marker in self.markers.glob("c*.json"):
            record = json.loads(marker.read_text())
            chunk = record["chunk"]
            if record["digest"] == self.digest and expected_ids.get(chunk) == record["ids"]:
                done[chunk] = record["outcome"]
            else:
                marker.unlink()
        for folder in self.folders:
            directory = self.out_root / folder
            directory.mkdir(parents=True, exist_ok=True)
            for path in directory.glob("part-*.parquet*"):
                if _chunk_of(path.name) not in done:
                    path.unlink()
        return done

    def writer(self, chunk: int, folder: str, schema, rows_per_shard: int) -> ShardWriter:
        return ShardWriter(self.staging / f"c{chunk:05d}" / folder, schema, rows_per_shard, prefix=chunk_prefix(chunk))

    def commit(self, chunk: int, ids: list[str], outcome: dict) -> None:
        """Move the chunk's staged files into place, then write its marker (atomically)."""
        staged = self.staging / f"c{chunk:05d}"
        for folder in self.folders:
            for path in sorted((staged / folder).glob("*.parquet")):
                path.replace(self.out_root / folder / path.name)
        marker = self.markers / f"c{chunk:05d}.json"
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"chunk": chunk, "digest": self.digest, "ids": ids, "outcome": outcome}))
        tmp.replace(marker)
        shutil.rmtree(staged, ignore_errors=True)
        for empty in (self.staging, self.staging.parent):
            try:
                empty.rmdir()
            except OSError:
                break


def _chunk_of(name: str) -> int | None:
    """`part-c00007-00001.parquet` → 7; files of any other name belong to no chunk."""
    head = name.split("-")
    return int(head[1][1:]) if len(head) >= 3 and head[1].startswith("c") and head[1][1:].isdigit() else None


def step_digest(out_root: Path, upstream: str, settings: dict) -> str:
    """Identity of a whole-dataset step's inputs: the upstream pass's chunk markers (which
    name every chunk's ids and outcome) and the step's own settings."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for marker in sorted((out_root / "_progress" / upstream).glob("c*.json")):
        h.update(marker.read_bytes())
    return h.hexdigest()


def step_is_current(out_root: Path, step: str, digest: str) -> bool:
    marker = out_root / "_progress" / f"{step}.done"
    return marker.exists() and marker.read_text() == digest


def record_step(out_root: Path, step: str, digest: str) -> None:
    marker = out_root / "_progress" / f"{step}.done"
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(digest)
    tmp.replace(marker)
