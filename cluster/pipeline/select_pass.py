"""Pass 2, select: thresholds → clustering of embeddings → semantic dedup → cluster-balanced
caps → `selection/` (keep, the first reason a row is dropped, cluster and dedup info).

Touches no video, so new thresholds or caps take seconds to minutes, not hours."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import ray

from cluster.selection.balance import balance
from cluster.selection.clustering import choose_k, fit_centroids
from cluster.sink import ShardWriter
from cluster.stages.dedup_stage import assign_batch, dedup_cluster, embeddings_of
from schemas.tables import CANDIDATES, SELECTION

log = logging.getLogger(__name__)

THRESHOLD_COLUMNS = ["segment_id", "status", "reason", "stage", "display_aspect_ratio", "redundancy", "aesthetic", "clip_similarity"]
CLUSTER_COLUMNS = [*THRESHOLD_COLUMNS, "video_id", "embedding"]


def decide(row: dict, filters) -> str | None:
    """The first threshold a candidate fails, or None. A missing score never fails a
    filter (e.g. similarity is null for videos without text)."""
    if row["status"] == "error":
        return f"error:{row['stage']}"
    if row["status"] == "filtered":
        return row["reason"]
    checks = [
        ("aspect_ratio", row["display_aspect_ratio"], filters.min_aspect_ratio, filters.max_aspect_ratio),
        ("static", row["redundancy"], None, filters.max_redundancy),
        ("low_aesthetic", row["aesthetic"], filters.min_aesthetic, None),
        ("low_clip_similarity", row["clip_similarity"], filters.min_clip_similarity, None),
    ]
    for reason, value, low, high in checks:
        if value is None:
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            return reason
    return None


def eligible(batch: pa.Table, filters) -> pa.Table:
    """Rows that pass every threshold and carry an embedding: the ones to cluster."""
    has_embedding = batch.column("embedding").is_valid().to_pylist()
    rows = batch.select(THRESHOLD_COLUMNS).to_pylist()
    keep = [present and decide(row, filters) is None for row, present in zip(rows, has_embedding)]
    return batch.filter(pa.array(keep, pa.bool_()))


def run_select_pass(cfg, out_root: Path) -> Counter:
    candidates = pads.dataset(out_root / "candidates", schema=CANDIDATES, format="parquet")
    reasons = {}
    for batch in candidates.to_batches(columns=["segment_id", "video_id", *THRESHOLD_COLUMNS[1:]]):
        for row in batch.to_pylist():
            reasons[(row["video_id"], row["segment_id"])] = decide(row, cfg.filters)
    clusters, drops = _cluster_and_dedup(cfg, candidates, out_root) if cfg.dedup.enabled else ({}, {})

    writer = ShardWriter(out_root / "selection", SELECTION, cfg.output.rows_per_shard)
    outcomes: Counter = Counter()
    for (video, segment), reason in reasons.items():
        reason = reason or drops.get(segment)
        outcomes[reason or "kept"] += 1
        writer.add({**clusters.get(segment, {}), "video_id": video, "segment_id": segment, "keep": reason is None, "drop_reason": reason})
    writer.close()
    log.info("select pass: %s", dict(outcomes))
    return outcomes


def _cluster_and_dedup(cfg, candidates: pads.Dataset, out_root: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """Cluster and dedup the eligible rows: per segment its cluster fields, and the drop
    reason (near_duplicate, source_cap, cluster_cap) of those it removes."""
    d = cfg.dedup

    def embedding_batches() -> Iterator[np.ndarray]:
        for batch in candidates.to_batches(columns=CLUSTER_COLUMNS):
            rows = eligible(pa.Table.from_batches([batch]), cfg.filters)
            if rows.num_rows:
                yield embeddings_of(rows)

    count = sum(len(b) for b in embedding_batches())
    if count == 0:
        return {}, {}
    k = choose_k(count, d.clusters)
    centroids = fit_centroids(embedding_batches, count, k, d.seed)
    log.info("clustered %d embeddings into %d clusters", count, k)

    ds = ray.data.read_parquet(str(out_root / "candidates"), columns=CLUSTER_COLUMNS, schema=CANDIDATES)
    ds = ds.map_batches(eligible, fn_args=(cfg.filters,), batch_format="pyarrow")
    ds = ds.map_batches(assign_batch, fn_kwargs={"centroids": centroids}, batch_format="pyarrow")
    ds = ds.groupby("cluster_id").map_groups(dedup_cluster, fn_args=(d.eps, d.keep), batch_format="pyarrow")
    rows = [r for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None) for r in batch.to_pylist()]

    fields = ("cluster_id", "centroid_distance", "duplicate_group", "duplicate_of")
    info = {r["segment_id"]: {f: r[f] for f in fields} for r in rows}
    drops = {r["segment_id"]: "near_duplicate" for r in rows if r["duplicate_of"]}
    survivors = [r for r in rows if not r["duplicate_of"]]
    drops.update(balance(survivors, d.max_per_cluster, d.max_per_video, d.target_total))
    return info, drops
