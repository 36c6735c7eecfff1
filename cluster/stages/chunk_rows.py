"""Pass-3 source stage: a chunk's kept candidate rows, embeddings and all, with their cluster
fields from selection/, read on a worker when the pipeline reaches the chunk (the driver
reads only the accounting columns). Light to import, as every actor module should be: its
actor starts before any other stage of the pass can work."""

from __future__ import annotations

import json

import pyarrow.compute as pc

from cluster.store import Store
from schemas.tables import CANDIDATES


class ChunkRows:
    """Flat-map actor: one work item ({chunk, segments: JSON of id -> [cluster, group]}) in,
    the chunk's kept candidate rows out."""

    def __init__(self, store: Store, candidate_files: list[str], chunk_size: int):
        self.candidates = store.dataset(candidate_files, CANDIDATES)
        self.chunk_size = chunk_size

    def __call__(self, item: dict) -> list[dict]:
        clustering = json.loads(item["segments"])
        wanted = in_chunk(item["chunk"], self.chunk_size) & pc.field("segment_id").isin(list(clustering))
        rows = self.candidates.to_table(filter=wanted).to_pylist()
        return [
            {**r, "cluster_id": clustering[r["segment_id"]][0], "duplicate_group": clustering[r["segment_id"]][1]}
            for r in rows
        ]


def in_chunk(chunk: int, chunk_size: int) -> pc.Expression:
    """Rows of the manifest entries that chunk `chunk` holds."""
    return (pc.field("input_index") >= chunk * chunk_size) & (pc.field("input_index") < (chunk + 1) * chunk_size)
