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


@pytest.fixture(scope="module")
def overlapping(ray_head, shared_videos, tmp_path_factory):
    """chaplin.mp4 and a re-encoded copy starting 0.2 s later: their segments overlap in time."""
    import av

    from cluster.video.synth import write_video

    root = tmp_path_factory.mktemp("overlap")
    with av.open(str(shared_videos / "chaplin.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)][5:]
    shifted = write_video(root / "chaplin_shifted.mp4", iter(frames), 25, crf=18)
    return [str(shared_videos / "chaplin.mp4"), str(shifted), str(shared_videos / "example.mp4")]


def _select_run(videos, out, **dedup):
    import json

    from jobs.config import parse_config
    from jobs.curate import run

    manifest = out / "m.jsonl"
    manifest.write_text("".join(json.dumps({"uri": v}) + "\n" for v in videos))
    cfg = parse_config(
        {
            "input": {"manifest": str(manifest)},
            "output": {"root": str(out / "run")},
            "split": {"mode": "fixed", "min_seconds": 1.0, "max_seconds": 3.0},
            "scoring": {"preset": "random", "keyframes": 2},
            "filters": {"min_aesthetic": None, "min_clip_similarity": None, "max_redundancy": None},
            # random CLIP weights: time-overlapping segments score about 0.995-0.9996, adjacent
            # segments of one continuous shot about 0.99, so eps is set between them
            "dedup": {"clusters": 3, "eps": 0.006, **dedup},
        }
    )
    return run(cfg)


@pytest.fixture(scope="module")
def selected(overlapping, tmp_path_factory):
    out = tmp_path_factory.mktemp("selected")
    return out, _select_run([*overlapping, str(out / "missing.mp4")], out)


def test_time_overlapping_segments_dedup_against_each_other(selected):
    import pyarrow.parquet as pq

    out, summary = selected
    selection = pq.read_table(out / "run" / "selection").to_pylist()
    candidates = {r["segment_id"]: r for r in pq.read_table(out / "run" / "candidates").to_pylist()}
    dups = [s for s in selection if s["drop_reason"] == "near_duplicate"]
    assert summary["segments"]["filtered_by_reason"]["near_duplicate"] == len(dups) >= 3
    for s in dups:  # each duplicate pairs the shifted copy with the original, same time span
        a, b = candidates[s["segment_id"]], candidates[s["duplicate_of"]]
        assert {a["uri"].rsplit("/", 1)[1], b["uri"].rsplit("/", 1)[1]} == {"chaplin.mp4", "chaplin_shifted.mp4"}
        assert abs(a["start_s"] - b["start_s"]) < 1.0
        assert s["cluster_id"] is not None and s["duplicate_group"] == s["duplicate_of"]
    assert not any(candidates[s["segment_id"]]["uri"].endswith("example.mp4") for s in dups)


def test_rows_without_embedding_keep_their_upstream_reason(selected):
    import pyarrow.parquet as pq

    out, summary = selected
    (errored,) = [s for s in pq.read_table(out / "run" / "selection").to_pylist() if s["segment_id"] is None]
    assert errored["drop_reason"] == "error:probe" and errored["cluster_id"] is None
    assert summary["balanced"]


def test_caps_rerun_through_select_only(selected, tmp_path):
    import json

    import pyarrow.parquet as pq

    from jobs.select import main as select_main

    out, _ = selected
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps(
            {
                "input": {"manifest": "unused"},
                "output": {"root": str(out / "run")},
                "filters": {"min_aesthetic": None, "min_clip_similarity": None, "max_redundancy": None},
                "dedup": {"clusters": 3, "eps": 0.006, "max_per_video": 1},
            }
        )
    )
    assert select_main(["--config", str(config)]) == 0
    kept = [s for s in pq.read_table(out / "run" / "selection").to_pylist() if s["keep"]]
    assert len({s["video_id"] for s in kept}) == len(kept) == 3


def test_empty_input_gives_an_empty_valid_selection(ray_head, tmp_path):
    from jobs.config import parse_config
    from jobs.curate import run

    (tmp_path / "empty").mkdir()
    summary = run(
        parse_config(
            {
                "input": {"manifest": str(tmp_path / "empty")},
                "output": {"root": str(tmp_path / "out")},
                "scoring": {"preset": "random"},
            }
        )
    )
    import pyarrow.parquet as pq

    from schemas.tables import SELECTION

    table = pq.read_table(tmp_path / "out" / "selection")
    assert table.num_rows == 0 and table.schema.equals(SELECTION) and summary["inputs"] == 0 and summary["balanced"]
    assert "No samples were written." in (tmp_path / "out" / "report" / "index.html").read_text()


def test_report_plots_show_clusters_reasons_and_duplicate_pairs(selected):
    from PIL import Image

    out, _ = selected
    for name in ("cluster_sizes.png", "drop_reasons.png", "duplicate_pairs.png"):
        image = Image.open(out / "run" / "report" / name)
        assert image.format == "PNG" and min(image.size) > 200
