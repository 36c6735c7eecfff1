"""Pass-2 Ray stages: assign clusters with shared centroids, then dedup each cluster.

Assigned rows are written partitioned by cluster bucket, so each dedup task reads one
bucket from disk: memory per task is one bucket, never the whole embedding set (an
in-memory shuffle of a million 512-d embeddings would hold gigabytes in the object store).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cluster.selection.clustering import assign
from cluster.selection.dedup import duplicate_groups, keepers
from cluster.store import Store

BUCKETS = 64
EMPTY = pa.schema(
    [
        ("segment_id", pa.string()),
        ("video_id", pa.string()),
        ("cluster_id", pa.int32()),
        ("centroid_distance", pa.float32()),
        ("rank", pa.float64()),
        ("duplicate_group", pa.string()),
        ("duplicate_of", pa.string()),
    ]
).empty_table()


def embeddings_of(table: pa.Table) -> np.ndarray:
    column = table.column("embedding").combine_chunks()
    width = len(column[0]) if len(column) else 0
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, width)


def assign_batch(batch: pa.Table, centroids: np.ndarray) -> pa.Table:
    ids, distances = assign(embeddings_of(batch), centroids)
    return (
        batch.select(["segment_id", "video_id", "aesthetic", "embedding"])
        .append_column("cluster_id", pa.array(ids))
        .append_column("centroid_distance", pa.array(distances))
        .append_column("bucket", pa.array(ids % BUCKETS))
    )


def dedup_bucket(batch: pa.Table, store: Store, eps: float, keep: str) -> pa.Table:
    """Rows of `batch` list one bucket's files each; every cluster in them is deduplicated."""
    tables = [
        pq.read_table([store.path(f) for f in files], filesystem=store.arrow) for files in batch["files"].to_pylist()
    ]
    return pa.concat_tables([dedup_clusters(table, eps, keep) for table in tables])


def dedup_clusters(assigned: pa.Table, eps: float, keep: str) -> pa.Table:
    """Every cluster of `assigned` (rows of assign_batch) deduplicated on its own, in
    cluster then segment order: the same result whether the rows come from one bucket or
    all of them."""
    table = assigned.sort_by([("cluster_id", "ascending"), ("segment_id", "ascending")])
    clusters = table.column("cluster_id").to_numpy()
    bounds = np.flatnonzero(np.diff(clusters)) + 1
    edges = zip([0, *bounds], [*bounds, len(clusters)], strict=True)
    return pa.concat_tables(
        [EMPTY, *(dedup_cluster(table.slice(start, end - start), eps, keep) for start, end in edges)]
    )


def dedup_cluster(group: pa.Table, eps: float, keep: str) -> pa.Table:
    """One cluster in; per row its duplicate group (the kept member's id) and, for the
    others, which segment they duplicate. Embeddings are dropped on the way out."""
    ids = np.asarray(group.column("segment_id").to_pylist())
    distance = group.column("centroid_distance").to_numpy()
    if keep == "aesthetic":
        aesthetic = pc.fill_null(group.column("aesthetic"), -np.inf).to_numpy()
        preference = aesthetic.astype(np.float64)
    else:
        preference = -distance.astype(np.float64)
    kept = keepers(duplicate_groups(embeddings_of(group), eps), preference, ids)
    duplicate_of = [None if k == i else str(ids[k]) for i, k in enumerate(kept)]
    return pa.table(
        {
            "segment_id": pa.array(ids, pa.string()),
            "video_id": group.column("video_id"),
            "cluster_id": group.column("cluster_id"),
            "centroid_distance": pa.array(distance, pa.float32()),
            "rank": pa.array(-preference),
            "duplicate_group": pa.array(ids[kept], pa.string()),
            "duplicate_of": pa.array(duplicate_of, pa.string()),
        }
    )
