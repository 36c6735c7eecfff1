"""Clustering, semantic dedup and balanced caps on planted data, and through the select pass."""

import pytest


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


def test_the_select_in_this_process_and_on_ray_write_the_same_selection(selected, tmp_path):
    """Few candidates: select runs in its own process. The same selection is made again with
    Ray Data (dedup.in_process_rows: 0), from the same kept centroids."""
    import json

    import pyarrow.parquet as pq

    from jobs.select import main as select_main

    out, _ = selected
    centroids = sorted((out / "run" / "_progress").glob("centroids-*.npy"))
    assert len(centroids) == 1
    config = tmp_path / "c.json"
    settings = {
        "input": {"manifest": "unused"},
        "output": {"root": str(out / "run")},
        "filters": {"min_aesthetic": None, "min_clip_similarity": None, "max_redundancy": None},
        "dedup": {"clusters": 3, "eps": 0.006, "max_per_cluster": 2},
    }
    config.write_text(json.dumps(settings))
    selections = []
    for where in ("dedup.in_process_rows=200000", "dedup.in_process_rows=0"):
        (out / "run" / "_progress" / "select.json").unlink()  # as if never selected
        assert select_main(["--config", str(config), "--set", where]) == 0
        selections.append(pq.read_table(out / "run" / "selection").sort_by("segment_id").to_pylist())
    here, on_ray = selections
    assert on_ray == here and any(r["drop_reason"] == "cluster_cap" for r in here)
    assert sorted((out / "run" / "_progress").glob("centroids-*.npy")) == centroids, "the centroids were reused"
