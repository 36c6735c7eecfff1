"""Pass-2 Ray stages: assign clusters with shared centroids, then dedup each cluster."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cluster.selection.clustering import assign
from cluster.selection.dedup import duplicate_groups, keepers


def embeddings_of(table: pa.Table) -> np.ndarray:
    column = table.column("embedding").combine_chunks()
    width = len(column[0]) if len(column) else 0
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, width)


def assign_batch(batch: pa.Table, centroids: np.ndarray) -> pa.Table:
    ids, distances = assign(embeddings_of(batch), centroids)
    return batch.append_column("cluster_id", pa.array(ids)).append_column("centroid_distance", pa.array(distances))


def dedup_cluster(group: pa.Table, eps: float, keep: str) -> pa.Table:
    """One cluster in; per row its duplicate group (the kept member's id) and, for the
    others, which segment they duplicate. Embeddings are dropped on the way out."""
    ids = np.asarray(group.column("segment_id").to_pylist())
    distance = group.column("centroid_distance").to_numpy()
    if keep == "aesthetic":
        aesthetic = group.column("aesthetic").to_numpy(zero_copy_only=False)
        preference = np.nan_to_num(aesthetic.astype(np.float64), nan=-np.inf)
    else:
        preference = -distance.astype(np.float64)
    kept = keepers(duplicate_groups(embeddings_of(group), eps), preference, ids)
    keeper_ids = ids[kept]
    duplicate_of = [None if k == i else str(ids[k]) for i, k in enumerate(kept)]
    return pa.table(
        {
            "segment_id": ids,
            "video_id": group.column("video_id"),
            "cluster_id": group.column("cluster_id"),
            "centroid_distance": distance,
            "rank": -preference,
            "duplicate_group": keeper_ids,
            "duplicate_of": pa.array(duplicate_of, pa.string()),
        }
    )
