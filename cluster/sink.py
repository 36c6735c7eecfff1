"""Sharded Parquet output with explicit schemas, written as rows stream in."""

from __future__ import annotations

import posixpath

import pyarrow as pa
import pyarrow.parquet as pq

from cluster.store import Store
from schemas.tables import table_from_rows


class ShardWriter:
    """Writes `{folder}/{prefix}-00000.parquet`, ... of at most `rows_per_shard` rows each,
    through the store (each shard appears whole or not at all). An empty output still gets
    one (empty) shard with the schema. `files` names what was written, for the marker that
    commits it."""

    def __init__(self, store: Store, folder: str, schema: pa.Schema, rows_per_shard: int, prefix: str):
        self.store, self.folder, self.schema = store, folder, schema
        self.rows_per_shard, self.prefix = rows_per_shard, prefix
        self.pending: list[dict] = []
        self.files: list[str] = []
        self.rows = 0

    def add(self, row: dict) -> None:
        self.pending.append(row)
        if len(self.pending) >= self.rows_per_shard:
            self._flush()

    def add_table(self, table: pa.Table) -> None:
        """Append a whole table (already of this writer's schema) in shard-sized slices."""
        if self.pending:
            self._flush()
        for offset in range(0, table.num_rows, self.rows_per_shard):
            self._write(table.slice(offset, self.rows_per_shard))

    def close(self) -> int:
        if self.pending or not self.files:
            self._flush()
        return self.rows

    def _flush(self) -> None:
        self._write(table_from_rows(self.pending, self.schema))
        self.pending = []

    def _write(self, table: pa.Table) -> None:
        rel = posixpath.join(self.folder, f"{self.prefix}-{len(self.files):05d}.parquet")
        with self.store.open_write(rel) as f:
            pq.write_table(table.cast(self.schema), f)
        self.files.append(rel)
        self.rows += table.num_rows
