"""Pass 2, select: thresholds → clustering of embeddings → semantic dedup → cluster-balanced
caps → `selection/` (keep, the first reason a row is dropped, cluster and dedup info).

Touches no video, so new thresholds or caps take seconds, not hours. The centroids are fit
once on every candidate's embedding and kept beside the candidates (`_progress/centroids-*`)
until the candidates or the clustering settings change, so a threshold change only assigns
the rows that now pass and deduplicates each cluster. Up to dedup.in_process_rows candidates
that runs in this process; above it, on the cluster with Ray Data, one task per cluster
bucket. Both deduplicate each cluster with the same function, in the same order, so they
write the same selection/."""

from __future__ import annotations

import hashlib
import io
import json
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
from cluster.selection.thresholds import COLUMNS, eligible, threshold_reasons
from cluster.sink import ShardWriter
from cluster.stages.dedup_stage import EMPTY, assign_batch, dedup_bucket, dedup_clusters, embeddings_of
from cluster.store import Store
from schemas.layout import RUN
from schemas.tables import CANDIDATES, SELECTION

log = logging.getLogger(__name__)

CLUSTER_COLUMNS = [*COLUMNS, "video_id", "embedding"]
# Embedding scans on the driver: small batches and no read-ahead, or pyarrow keeps
# gigabytes of decoded 512-d batches in flight.
SCAN = {"batch_size": 8192, "batch_readahead": 0, "fragment_readahead": 0}
UDF_BATCH = 8192
SELECT_STAGING = "_select_staging"


def run_select_pass(cfg, store: Store, in_process: bool) -> tuple[Counter, list[str]]:
    """Decide every candidate; returns the outcome counts and the selection/ files written
    (under names unique to this attempt: the step's marker commits them)."""
    files = committed_files(store, "segment", RUN.candidates)
    candidates = store.dataset(files, CANDIDATES)
    table = _threshold_decisions(candidates, cfg.filters)
    if cfg.dedup.enabled:
        table = table.join(_cluster_and_dedup(cfg, store, files, in_process), "segment_id", join_type="left outer")
    else:
        table = table.append_column("dedup_reason", pa.nulls(table.num_rows, pa.string()))
    reason = pc.coalesce(table.column("threshold_reason"), table.column("dedup_reason"))
    table = table.append_column("drop_reason", reason).append_column("keep", pc.is_null(reason))
    for name in SELECTION.names:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, SELECTION.field(name).type))
    writer = ShardWriter(store, RUN.selection, SELECTION, cfg.output.rows_per_shard, prefix=f"part-{attempt_token()}")
    writer.add_table(table.select(SELECTION.names).sort_by("segment_id"))
    writer.close()
    store.write_json(RUN.selection_settings, cfg.model_dump(include={"filters", "dedup"}))
    outcomes = Counter({(r["values"] or "kept"): r["counts"] for r in pc.value_counts(reason).to_pylist()})
    log.info("select pass (%s): %s", "in this process" if in_process else "on Ray", dict(outcomes))
    for reason, n in outcomes.items():
        if reason != "kept" and not reason.startswith("error:"):
            metrics.count("vidcurate_segments_filtered", n, reason=reason)
    return outcomes, writer.files


def _threshold_decisions(candidates: pads.Dataset, filters) -> pa.Table:
    chunks = [
        pa.table(
            {
                "video_id": batch.column("video_id"),
                "segment_id": batch.column("segment_id"),
                "threshold_reason": threshold_reasons(pa.Table.from_batches([batch]), filters),
            }
        )
        for batch in candidates.to_batches(columns=["video_id", *COLUMNS])
    ]
    empty = pa.table(
        {
            "video_id": pa.array([], pa.string()),
            "segment_id": pa.array([], pa.string()),
            "threshold_reason": pa.array([], pa.string()),
        }
    )
    return pa.concat_tables([empty, *chunks])


def _cluster_and_dedup(cfg, store: Store, files: list[str], in_process: bool) -> pa.Table:
    """Per clustered segment: cluster fields, and the dedup_reason (near_duplicate,
    source_cap, cluster_cap) of those it removes."""
    d = cfg.dedup
    centroids = _centroids(d, store, files)
    if centroids is None:
        clustered = EMPTY
    elif in_process:
        clustered = _dedup_here(cfg, store.dataset(files, CANDIDATES), centroids)
    else:
        clustered = _dedup_on_ray(cfg, store, files, centroids)
    duplicates = clustered.filter(pc.is_valid(clustered.column("duplicate_of")))
    drops = dict.fromkeys(duplicates.column("segment_id").to_pylist(), "near_duplicate")
    survivors = clustered.filter(pc.is_null(clustered.column("duplicate_of")))
    drops.update(balance(survivors, d.max_per_cluster, d.max_per_video, d.target_total))
    reasons = pa.array([drops.get(s) for s in clustered.column("segment_id").to_pylist()], pa.string())
    columns = ["segment_id", "cluster_id", "centroid_distance", "duplicate_group", "duplicate_of"]
    return clustered.select(columns).append_column("dedup_reason", reasons)


def _centroids(d, store: Store, files: list[str]) -> np.ndarray | None:
    """Centroids of every candidate's embedding, fit once per set of candidates and
    clustering settings and kept under _progress/ (None when no candidate has one)."""
    key = hashlib.sha256(
        json.dumps([store.stamps(posixpath.join(RUN.progress, "segment")), d.clusters, d.seed]).encode()
    ).hexdigest()[:16]
    kept = posixpath.join(RUN.progress, f"centroids-{key}.npy")
    if store.exists(kept):
        return np.load(io.BytesIO(store.read_bytes(kept)))
    candidates = store.dataset(files, CANDIDATES)

    def embedding_batches() -> Iterator[np.ndarray]:
        for batch in candidates.to_batches(columns=["embedding"], filter=pc.is_valid(pc.field("embedding")), **SCAN):
            if batch.num_rows:
                yield embeddings_of(pa.Table.from_batches([batch]))

    count = sum(len(b) for b in embedding_batches())
    if count == 0:
        return None
    k = choose_k(count, d.clusters)
    centroids = fit_centroids(embedding_batches, count, k, d.seed)
    log.info("clustered %d embeddings into %d clusters", count, k)
    store.delete(store.files(RUN.progress, ".npy"))
    buffer = io.BytesIO()
    np.save(buffer, centroids)
    store.write_bytes(kept, buffer.getvalue())
    return centroids


def _dedup_here(cfg, candidates: pads.Dataset, centroids: np.ndarray) -> pa.Table:
    """Assign and deduplicate in this process (the candidates fit in its memory)."""
    assigned = [
        assign_batch(rows, centroids)
        for batch in candidates.to_batches(columns=CLUSTER_COLUMNS, **SCAN)
        if (rows := eligible(pa.Table.from_batches([batch]), cfg.filters)).num_rows
    ]
    if not assigned:
        return EMPTY
    return dedup_clusters(pa.concat_tables(assigned), cfg.dedup.eps, cfg.dedup.keep)


def _dedup_on_ray(cfg, store: Store, files: list[str], centroids: np.ndarray) -> pa.Table:
    """Assign with Ray Data, write the rows partitioned by cluster bucket, and deduplicate
    each bucket in a task of its own (no task holds more than a bucket)."""
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
    if not buckets:
        return EMPTY
    listing = ray.data.from_items([{"files": b} for _, b in sorted(buckets.items())], override_num_blocks=len(buckets))
    d = cfg.dedup
    groups = listing.map_batches(
        partial(dedup_bucket, store=store, eps=d.eps, keep=d.keep), batch_size=1, batch_format="pyarrow"
    )
    clustered = pa.concat_tables(
        [EMPTY, *(cast(pa.Table, b) for b in groups.iter_batches(batch_format="pyarrow", batch_size=None))]
    )
    store.delete_tree(SELECT_STAGING)
    return clustered
