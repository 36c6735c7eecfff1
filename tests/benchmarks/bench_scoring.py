"""Scoring throughput: the Ray Data actor-pool stage vs a bare open_clip loop, in one run.

Both score the same JPEG keyframes (decoded once from ../shared/videos) with the same
model (ViT-B-32 by default, random weights: speed does not depend on them) and the same
aesthetic head, in batches of the same size, model loading included in both. The stage's
overhead is (stage time / bare time - 1).

    .venv/bin/python tests/benchmarks/bench_scoring.py [--model ViT-B-32] [--segments 48]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import ray
import torch
from ray.data import ActorPoolStrategy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local_inputs import access

from cluster.models.aesthetic import HEADS
from cluster.models.clip import ClipSpec
from cluster.stages.keyframe_stage import DecodeKeyframes
from cluster.stages.score_stage import ScoreSegments, ScoreSettings
from cluster.video.probe import probe_video

SHARED = Path(__file__).resolve().parents[3] / "shared" / "videos"
KEYFRAMES = 4


def keyframe_rows(segments: int) -> list[dict]:
    videos = sorted(SHARED.iterdir())
    decode = DecodeKeyframes(KEYFRAMES, 224, access(), max_corrupt=1.0)
    rows = []
    for i in range(segments):
        path = videos[i % len(videos)]
        probe = probe_video(str(path))
        span = probe.duration / 3
        start = (i // len(videos)) % 3 * span
        row = {
            "uri": str(path),
            "status": "ok",
            "start_s": start,
            "end_s": start + span,
            "probe": probe.metadata(),
            "source_fingerprint": None,
            "title": "a video",
            "video_id": f"v{i}",
            "segment_id": f"s{i}",
        }
        rows.append(decode(row))
    return rows


def bare(rows: list[dict], settings: ScoreSettings, batch: int) -> list[float]:
    """Start time, then the time each batch finished."""
    marks = [time.perf_counter()]
    scorer = ScoreSegments(settings)
    for i in range(0, len(rows), batch):
        scorer(pa.Table.from_pylist(rows[i : i + batch]))
        marks.append(time.perf_counter())
    return marks


def staged(rows: list[dict], settings: ScoreSettings, batch: int, cpus: int) -> list[float]:
    """The actor asks for a GPU when there is one, as the segment pass's scoring actors do."""
    gpus = 1 if torch.cuda.is_available() else 0
    ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // batch))
    ds = ds.map_batches(
        ScoreSegments,
        fn_constructor_args=(settings,),
        batch_size=batch,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(min_size=1, max_size=1),
        num_cpus=cpus,
        num_gpus=gpus,
    )
    marks = [time.perf_counter()]
    for _ in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        marks.append(time.perf_counter())
    return marks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--head", default="laion-linear-vit-b-32")
    parser.add_argument("--segments", type=int, default=112)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    cpus = os.cpu_count()
    settings = ScoreSettings(ClipSpec(args.model, None, random_init=True), HEADS[args.head], None, "mean", False)
    rows = keyframe_rows(args.segments)
    frames = len(rows) * KEYFRAMES
    torch.set_num_threads(cpus)
    ray.init(num_cpus=cpus, include_dashboard=False)
    results = {
        "bare open_clip loop": bare(rows, settings, args.batch),
        "Ray Data actor stage": staged(rows, settings, args.batch, cpus),
    }
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rates = {}
    for name, marks in results.items():
        per_batch = frames / (len(marks) - 1)
        total = frames / (marks[-1] - marks[0])
        steady = per_batch * (len(marks) - 2) / (marks[-1] - marks[1])
        rates[name] = (total, steady)
        print(
            f"{name:22s} end to end {total:6.1f} frames/s, steady state {steady:6.1f} frames/s ({args.model}, {device})"
        )
    (bare_total, bare_steady), (stage_total, stage_steady) = rates.values()
    print(
        f"stage overhead: end to end {(bare_total / stage_total - 1) * 100:.1f}%, "
        f"steady state {(bare_steady / stage_steady - 1) * 100:.1f}% "
        f"({frames} frames, batches of {args.batch} segments)"
    )
    ray.shutdown()


if __name__ == "__main__":
    main()
