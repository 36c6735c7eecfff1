"""Cluster-balanced caps: per cluster, per source video, and/or a total target spread as
evenly over clusters as the data allows. Deterministic: members are taken in rank order."""

from __future__ import annotations

from collections import Counter, defaultdict


def balance(rows: list[dict], max_per_cluster: int | None, max_per_video: int | None, target_total: int | None) -> dict[str, str]:
    """Drop reason by segment id for rows that exceed a cap.

    `rows` are the dedup survivors with segment_id, video_id, cluster_id and rank (lower is
    better, e.g. -aesthetic or distance to centroid)."""
    ranked = sorted(rows, key=lambda r: (r["rank"], r["segment_id"]))
    dropped: dict[str, str] = {}
    per_video: Counter = Counter()
    by_cluster: dict[int, list[dict]] = defaultdict(list)
    for r in ranked:
        if max_per_video is not None and per_video[r["video_id"]] >= max_per_video:
            dropped[r["segment_id"]] = "source_cap"
            continue
        per_video[r["video_id"]] += 1
        by_cluster[r["cluster_id"]].append(r)
    quotas = _quotas({c: len(m) for c, m in by_cluster.items()}, max_per_cluster, target_total)
    for cluster, members in by_cluster.items():
        for r in members[quotas[cluster]:]:
            dropped[r["segment_id"]] = "cluster_cap"
    return dropped


def _quotas(sizes: dict[int, int], max_per_cluster: int | None, target_total: int | None) -> dict[int, int]:
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
