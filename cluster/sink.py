"""Sharded Parquet output with explicit schemas, written as rows stream in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from schemas.tables import table_from_rows


class ShardWriter:
    """Writes `{prefix}-00000.parquet`, ... of at most `rows_per_shard` rows each, into a
    directory it empties first.

    Shards are written under a staging name and renamed when complete, so a reader never
    sees a half-written file. An empty output still gets one (empty) shard with the schema.
    """

    def __init__(self, directory: str | Path, schema, rows_per_shard: int, prefix: str = "part"):
        self.directory = Path(directory)
        self.schema = schema
        self.rows_per_shard = rows_per_shard
        self.prefix = prefix
        self.pending: list[dict] = []
        self.shards = 0
        self.rows = 0
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True)

    def add(self, row: dict) -> None:
        self.pending.append(row)
        if len(self.pending) >= self.rows_per_shard:
            self._flush()

    def add_table(self, table) -> None:
        """Append a whole table (already of this writer's schema) in shard-sized slices."""
        if self.pending:
            self._flush()
        for offset in range(0, table.num_rows, self.rows_per_shard):
            self._write(table.slice(offset, self.rows_per_shard))

    def close(self) -> int:
        if self.pending or self.shards == 0:
            self._flush()
        return self.rows

    def _flush(self) -> None:
        self._write(table_from_rows(self.pending, self.schema))
        self.pending = []

    def _write(self, table) -> None:
        final = self.directory / f"{self.prefix}-{self.shards:05d}.parquet"
        staging = final.with_suffix(".parquet.tmp")
        pq.write_table(table.cast(self.schema), staging)
        staging.replace(final)
        self.shards += 1
        self.rows += table.num_rows


def write_json(path: Path, payload: dict) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(path)
