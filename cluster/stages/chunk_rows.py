"""Pass-3 source stage: a chunk's kept candidate rows, embeddings and all, with their cluster
fields from selection/, read on a worker when the pipeline reaches the chunk (the driver
reads only the accounting columns).

A task, not an actor: Ray Data fuses it with the repartition into small blocks after it, so
the first media tasks wait for neither an actor's process start nor a repartition task
holding a CPU."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from cluster.store import Store
from schemas.tables import CANDIDATES


def chunk_rows(work: pa.Table, store: Store, candidate_files: list[str], chunk_size: int) -> pa.Table:
    """Work items ({chunk, segments: JSON of id -> [cluster, group]}) in, the kept candidate
    rows of their chunks out, each with its cluster_id and duplicate_group."""
    candidates = store.dataset(candidate_files, CANDIDATES)
    tables = []
    for item in work.to_pylist():
        clustering = json.loads(item["segments"])
        wanted = in_chunk(item["chunk"], chunk_size) & pc.field("segment_id").isin(list(clustering))
        rows = candidates.to_table(filter=wanted)
        ids = rows.column("segment_id").to_pylist()
        rows = rows.append_column("cluster_id", pa.array([clustering[i][0] for i in ids], pa.int32()))
        tables.append(rows.append_column("duplicate_group", pa.array([clustering[i][1] for i in ids], pa.string())))
    return pa.concat_tables(tables)


def in_chunk(chunk: int, chunk_size: int) -> pc.Expression:
    """Rows of the manifest entries that chunk `chunk` holds."""
    return (pc.field("input_index") >= chunk * chunk_size) & (pc.field("input_index") < (chunk + 1) * chunk_size)
