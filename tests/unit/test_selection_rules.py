"""Clustering, semantic dedup and balanced caps on planted data, and through the select pass."""

import numpy as np
import pytest

from cluster.selection.clustering import assign, choose_k, fit_centroids
from cluster.selection.dedup import duplicate_groups, keepers


def _unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def planted(clusters=6, per_cluster=40, dim=64, dup_groups=5, dup_size=3, seed=0):
    """Well-separated clusters; inside them, groups of near-identical vectors."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(clusters, dim)))
    labels = np.repeat(np.arange(clusters), per_cluster)
    x = _unit(centres[labels] + 0.35 / np.sqrt(dim) * rng.normal(size=(len(labels), dim)))
    duplicates = []
    for g in range(dup_groups):
        base = g * 7
        members = [base, *list(range(len(x) - (g + 1) * dup_size, len(x) - g * dup_size - 1))]
        for m in members[1:]:
            x[m] = _unit(x[base] + 0.003 * rng.normal(size=dim))
            labels[m] = labels[base]
        duplicates.append(set(members))
    return x, labels, duplicates


def test_choose_k_derives_and_lowers():
    assert choose_k(1_000_000, None) == 707
    assert choose_k(5, 10) == 5
    assert choose_k(0, None) == 1


@pytest.mark.parametrize("rows", [240, 60_000])
def test_planted_clusters_are_recovered(rows):
    per = rows // 6
    x, labels, _ = planted(per_cluster=per, dup_groups=0)
    centroids = fit_centroids(lambda: np.array_split(x, 10), len(x), 6, seed=0)
    ids, distances = assign(x, centroids)
    for c in range(6):  # every planted cluster maps to one found cluster
        assert len(set(ids[labels == c])) == 1
    assert len(set(ids)) == 6 and np.all(distances >= -1e-6)


def test_same_seed_same_centroids():
    x, _, _ = planted()
    a = fit_centroids(lambda: [x], len(x), 6, seed=3)
    b = fit_centroids(lambda: [x], len(x), 6, seed=3)
    np.testing.assert_array_equal(a, b)


def test_dedup_finds_every_planted_duplicate_and_nothing_else():
    x, _, duplicates = planted()
    groups = duplicate_groups(x, eps=0.02)
    found = {}
    for i, g in enumerate(groups):
        found.setdefault(g, set()).add(i)
    multi = [members for members in found.values() if len(members) > 1]
    assert sorted(map(sorted, multi)) == sorted(map(sorted, duplicates))


def test_keeper_is_the_highest_preference_member():
    groups = np.array([0, 0, 0, 3])
    kept = keepers(groups, np.array([1.0, 5.0, 2.0, 0.0]), np.array(["a", "b", "c", "d"]))
    assert kept.tolist() == [1, 1, 1, 3]


def _rows(sizes, videos=1):
    rows = []
    for c, n in enumerate(sizes):
        for i in range(n):
            rows.append(
                {"segment_id": f"s{c}_{i:03d}", "video_id": f"v{i % videos}", "cluster_id": c, "rank": float(i)}
            )
    return rows


def balance(rows, max_per_cluster, max_per_video, target_total):
    import pyarrow as pa

    from cluster.selection.balance import balance as balance_table

    return balance_table(pa.Table.from_pylist(rows), max_per_cluster, max_per_video, target_total)


def test_cluster_cap_holds_exactly_and_keeps_the_best_ranked():
    dropped = balance(_rows([10, 3, 7]), max_per_cluster=4, max_per_video=None, target_total=None)
    kept = [r for r in _rows([10, 3, 7]) if r["segment_id"] not in dropped]
    assert [sum(r["cluster_id"] == c for r in kept) for c in range(3)] == [4, 3, 4]
    assert {r["segment_id"] for r in kept if r["cluster_id"] == 0} == {f"s0_{i:03d}" for i in range(4)}
    assert set(dropped.values()) == {"cluster_cap"}


def test_source_cap_holds_exactly():
    rows = _rows([12, 12], videos=3)
    dropped = balance(rows, None, max_per_video=5, target_total=None)
    kept = [r for r in rows if r["segment_id"] not in dropped]
    assert all(sum(r["video_id"] == v for r in kept) == 5 for v in ("v0", "v1", "v2"))
    assert set(dropped.values()) == {"source_cap"}


def test_target_total_is_spread_evenly_and_deterministically():
    rows = _rows([50, 2, 30, 9])
    dropped = balance(rows, None, None, target_total=30)
    kept = [r for r in rows if r["segment_id"] not in dropped]
    counts = [sum(r["cluster_id"] == c for r in kept) for c in range(4)]
    assert sum(counts) == 30 and counts[1] == 2 and max(counts) - min(c for c in counts if c > 2) <= 1
    assert balance(list(reversed(rows)), None, None, target_total=30) == dropped


def test_threshold_reasons_name_the_first_filter_each_row_fails():
    import pyarrow as pa

    from cluster.selection.thresholds import eligible, threshold_reasons
    from jobs.config import FilterConfig

    rows = [
        {"status": "ok", "display_aspect_ratio": 1.7, "redundancy": 0.5, "aesthetic": 6.0, "clip_similarity": None},
        {"status": "ok", "display_aspect_ratio": 3.0, "redundancy": 0.999, "aesthetic": 1.0, "clip_similarity": 0.0},
        {"status": "ok", "display_aspect_ratio": 1.0, "redundancy": 0.999, "aesthetic": 1.0, "clip_similarity": 0.0},
        {"status": "ok", "display_aspect_ratio": 1.0, "redundancy": None, "aesthetic": 4.0, "clip_similarity": 0.9},
        {"status": "ok", "display_aspect_ratio": 1.0, "redundancy": 0.5, "aesthetic": 6.0, "clip_similarity": 0.1},
        {"status": "filtered", "reason": "too_short", "display_aspect_ratio": 1.0},
        {"status": "error", "stage": "probe"},
    ]
    table = pa.Table.from_pylist(
        [{"segment_id": f"s{i}", "reason": None, "stage": None, "embedding": [1.0], **r} for i, r in enumerate(rows)]
    )
    reasons = threshold_reasons(table, FilterConfig()).to_pylist()
    assert reasons == [
        None,
        "aspect_ratio",
        "static",
        "low_aesthetic",
        "low_clip_similarity",
        "too_short",
        "error:probe",
    ]
    assert eligible(table, FilterConfig()).column("segment_id").to_pylist() == ["s0"]
    no_filters = FilterConfig(
        min_aspect_ratio=None, max_aspect_ratio=None, max_redundancy=None, min_aesthetic=None, min_clip_similarity=None
    )
    assert threshold_reasons(table, no_filters).to_pylist() == [None] * 5 + ["too_short", "error:probe"]


def test_a_rows_cluster_and_distance_do_not_depend_on_its_batch():
    x, _, _ = planted(per_cluster=500, dup_groups=0)
    centroids = fit_centroids(lambda: [x], len(x), 6, seed=0)
    ids, distances = assign(x, centroids)
    for size in (1, 7, 1000):
        parts = [assign(x[i : i + size], centroids) for i in range(0, len(x), size)]
        assert np.array_equal(np.concatenate([p[0] for p in parts]), ids)
        assert np.array_equal(np.concatenate([p[1] for p in parts]), distances)  # bit for bit
