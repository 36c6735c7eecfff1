"""Pass 2, select: thresholds → clustering of embeddings → semantic dedup → cluster-balanced
caps → `selection/` (keep, the first reason a row is dropped, cluster and dedup info).

Touches no video, so new thresholds or caps take seconds to minutes, not hours."""

from __future__ import annotations

import logging
import posixpath
from collections import Counter
from collections.abc import Iterator
from functools import partial
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import ray

from cluster import metrics
from cluster.progress import attempt_token, committed_files
from cluster.selection.balance import balance
from cluster.selection.clustering import choose_k, fit_centroids
from cluster.sink import ShardWriter
from cluster.stages.dedup_stage import assign_batch, dedup_bucket, embeddings_of
from cluster.store import Store
from schemas.layout import RUN
from schemas.tables import CANDIDATES, SELECTION

log = logging.getLogger(__name__)

THRESHOLD_COLUMNS = [
    "segment_id",
    "status",
    "reason",
    "stage",
    "display_aspect_ratio",
    "redundancy",
    "aesthetic",
    "clip_similarity",
]
CLUSTER_COLUMNS = [*THRESHOLD_COLUMNS, "video_id", "embedding"]
# Embedding scans on the driver: small batches and no read-ahead, or pyarrow keeps
# gigabytes of decoded 512-d batches in flight.
SCAN = {"batch_size": 8192, "batch_readahead": 0, "fragment_readahead": 0}
UDF_BATCH = 8192
SELECT_STAGING = "_select_staging"


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
    keep = [present and decide(row, filters) is None for row, present in zip(rows, has_embedding, strict=True)]
    return batch.filter(pa.array(keep, pa.bool_()))


def run_select_pass(cfg, store: Store) -> tuple[Counter, list[str]]:
    """Decide every candidate; returns the outcome counts and the selection/ files written
    (under names unique to this attempt: the step's marker commits them)."""
    files = committed_files(store, "segment", RUN.candidates)
    candidates = store.dataset(files, CANDIDATES)
    table = _threshold_decisions(candidates, cfg.filters)
    if cfg.dedup.enabled:
        table = table.join(_cluster_and_dedup(cfg, store, files), "segment_id", join_type="left outer")
    else:
        table = table.append_column("dedup_reason", pa.nulls(table.num_rows, pa.string()))
    reason = pc.coalesce(table.column("threshold_reason"), table.column("dedup_reason"))
    table = table.append_column("drop_reason", reason).append_column("keep", pc.is_null(reason))
    for name in SELECTION.names:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, SELECTION.field(name).type))
    writer = ShardWriter(store, RUN.selection, SELECTION, cfg.output.rows_per_shard, prefix=f"part-{attempt_token()}")
    writer.add_table(table.select(SELECTION.names))
    writer.close()
    store.write_json(RUN.selection_settings, cfg.model_dump(include={"filters", "dedup"}))
    outcomes = Counter({(r["values"] or "kept"): r["counts"] for r in pc.value_counts(reason).to_pylist()})
    log.info("select pass: %s", dict(outcomes))
    for reason, n in outcomes.items():
        if reason != "kept" and not reason.startswith("error:"):
            metrics.count("vidcurate_segments_filtered", n, reason=reason)
    return outcomes, writer.files


def _threshold_decisions(candidates: pads.Dataset, filters) -> pa.Table:
    chunks = []
    for batch in candidates.to_batches(columns=["video_id", *THRESHOLD_COLUMNS]):
        reasons = [decide(row, filters) for row in batch.select(THRESHOLD_COLUMNS).to_pylist()]
        chunks.append(
            pa.table(
                {
                    "video_id": batch.column("video_id"),
                    "segment_id": batch.column("segment_id"),
                    "threshold_reason": pa.array(reasons, pa.string()),
                }
            )
        )
    empty = pa.table(
        {
            "video_id": pa.array([], pa.string()),
            "segment_id": pa.array([], pa.string()),
            "threshold_reason": pa.array([], pa.string()),
        }
    )
    return pa.concat_tables([empty, *chunks])


def _cluster_and_dedup(cfg, store: Store, files: list[str]) -> pa.Table:
    """Per clustered segment: cluster fields, and the dedup_reason (near_duplicate,
    source_cap, cluster_cap) of those it removes."""
    d = cfg.dedup
    result = pa.table(
        {
            "segment_id": pa.array([], pa.string()),
            "cluster_id": pa.array([], pa.int32()),
            "centroid_distance": pa.array([], pa.float32()),
            "duplicate_group": pa.array([], pa.string()),
            "duplicate_of": pa.array([], pa.string()),
            "dedup_reason": pa.array([], pa.string()),
        }
    )

    candidates = store.dataset(files, CANDIDATES)

    def embedding_batches() -> Iterator[np.ndarray]:
        for batch in candidates.to_batches(columns=CLUSTER_COLUMNS, **SCAN):
            rows = eligible(pa.Table.from_batches([batch]), cfg.filters)
            if rows.num_rows:
                yield embeddings_of(rows)

    count = sum(len(b) for b in embedding_batches())
    if count == 0:
        return result
    k = choose_k(count, d.clusters)
    centroids = fit_centroids(embedding_batches, count, k, d.seed)
    log.info("clustered %d embeddings into %d clusters", count, k)

    # the buckets go where every node reads them: under the output root, in a folder of
    # this attempt's own, removed (with any a killed attempt left) once dedup is done
    store.delete_tree(SELECT_STAGING)
    staging = posixpath.join(SELECT_STAGING, attempt_token())
    paths = [store.path(f) for f in files]
    ds = ray.data.read_parquet(paths, filesystem=store.arrow, columns=CLUSTER_COLUMNS, schema=CANDIDATES)
    ds = ds.map_batches(partial(eligible, filters=cfg.filters), batch_format="pyarrow", batch_size=UDF_BATCH)
    ds = ds.map_batches(partial(assign_batch, centroids=centroids), batch_format="pyarrow", batch_size=UDF_BATCH)
    ds.write_parquet(store.path(staging), filesystem=store.arrow, partition_cols=["bucket"])
    buckets: dict[str, list[str]] = {}
    for f in store.files(staging, ".parquet"):
        buckets.setdefault(posixpath.dirname(f), []).append(f)
    listing = ray.data.from_items([{"files": b} for _, b in sorted(buckets.items())], override_num_blocks=len(buckets))
    groups = listing.map_batches(
        partial(dedup_bucket, store=store, eps=d.eps, keep=d.keep), batch_size=1, batch_format="pyarrow"
    )
    clustered = pa.concat_tables(
        cast(pa.Table, b) for b in groups.iter_batches(batch_format="pyarrow", batch_size=None)
    )
    store.delete_tree(SELECT_STAGING)

    duplicates = clustered.filter(pc.is_valid(clustered.column("duplicate_of")))
    drops = dict.fromkeys(duplicates.column("segment_id").to_pylist(), "near_duplicate")
    survivors = clustered.filter(pc.is_null(clustered.column("duplicate_of")))
    drops.update(balance(survivors, d.max_per_cluster, d.max_per_video, d.target_total))
    reasons = pa.array([drops.get(s) for s in clustered.column("segment_id").to_pylist()], pa.string())
    return clustered.select(result.column_names[:-1]).append_column("dedup_reason", reasons)
