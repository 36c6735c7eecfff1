"""Cluster-balanced caps: per cluster, per source video, and/or a total target spread as
evenly over clusters as the data allows. Deterministic: members are taken in rank order."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc


def balance(
    rows: pa.Table, max_per_cluster: int | None, max_per_video: int | None, target_total: int | None
) -> dict[str, str]:
    """Drop reason by segment id for rows that exceed a cap.

    `rows` holds the dedup survivors: segment_id, video_id, cluster_id and rank (lower is
    better, e.g. -aesthetic or distance to centroid)."""
    order = pc.sort_indices(rows, sort_keys=[("rank", "ascending"), ("segment_id", "ascending")])
    segments = rows.column("segment_id").take(order).to_pylist()
    videos = rows.column("video_id").take(order).to_pylist()
    clusters = rows.column("cluster_id").take(order).to_pylist()

    dropped: dict[str, str] = {}
    per_video: Counter = Counter()
    sizes: Counter = Counter()
    for segment, video, cluster in zip(segments, videos, clusters, strict=True):
        if max_per_video is not None and per_video[video] >= max_per_video:
            dropped[segment] = "source_cap"
            continue
        per_video[video] += 1
        sizes[cluster] += 1
    quotas = _quotas(sizes, max_per_cluster, target_total)
    taken: Counter = Counter()
    for segment, cluster in zip(segments, clusters, strict=True):
        if segment in dropped:
            continue
        taken[cluster] += 1
        if taken[cluster] > quotas[cluster]:
            dropped[segment] = "cluster_cap"
    return dropped


def _quotas(sizes: Counter, max_per_cluster: int | None, target_total: int | None) -> dict[int, int]:
    """Per-cluster quota: the configured cap, lowered evenly until the total fits the target,
    then the slots left over go one each to the clusters that still have members."""
    cap = max(sizes.values(), default=0) if max_per_cluster is None else max_per_cluster
    quotas = {c: min(s, cap) for c, s in sizes.items()}
    if target_total is None or sum(quotas.values()) <= target_total:
        return quotas
    lo, hi = 0, cap
    while lo < hi:  # the largest even cap whose total stays within the target
        mid = (lo + hi + 1) // 2
        if sum(min(s, mid) for s in sizes.values()) <= target_total:
            lo = mid
        else:
            hi = mid - 1
    quotas = {c: min(s, lo) for c, s in sizes.items()}
    spare = target_total - sum(quotas.values())
    for c in sorted(c for c, s in sizes.items() if s > lo)[:spare]:
        quotas[c] += 1
    return quotas
