"""Captioning throughput: the Ray Data captioner stage vs the bare engine, in one run.

Both caption the same segments (8 frames each at 448x252, read from ../shared/videos and
written as JPEG, as pass 3 writes them) with the same backend and the same fixed output
length. The bare path calls the engine directly on in-memory frames; the stage decodes the
JPEG bytes that materialize hands on in the block, in a Ray actor pool as the pipeline does.
Reports clips/s, video-hours per GPU-hour (each clip stands for `--clip-seconds` of source
video) and the stage overhead.

    .venv/bin/python tests/benchmarks/bench_caption.py                       # tiny-random on CPU
    python tests/benchmarks/bench_caption.py --backend vllm --model /models/Qwen2-VL-2B-Instruct --clips 512

With vLLM, a Qwen2-VL-2B-sized model with random weights (from its config) measures the
same speed as the real one; `--max-new-tokens` bounds the output length.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import ray
from ray.data import ActorPoolStrategy

from cluster.caption.backends import open_captioner
from cluster.caption.requests import CaptionRequest
from cluster.caption.settings import CaptionConfig
from cluster.stages.caption_stage import CaptionSegments
from cluster.video.decode import read_frames_at
from cluster.video.media import encode_jpeg
from cluster.video.probe import probe_video

SHARED = Path(__file__).resolve().parents[3] / "shared" / "videos"
SIZE = (252, 448)
FRAMES = 8


def clips(count: int) -> list[list[np.ndarray]]:
    videos = sorted(SHARED.iterdir())
    out = []
    for i in range(count):
        probe = probe_video(str(videos[i % len(videos)]))
        start = (i // len(videos)) * 1.5 % max(probe.duration - 4, 0.1)
        times = list(np.linspace(start, min(start + 4, probe.duration - 0.1), FRAMES))
        out.append(read_frames_at(str(videos[i % len(videos)]), times, probe.start_time, probe.rotation, SIZE))
    return out


def encoded_rows(frames: list[list[np.ndarray]]) -> list[dict]:
    """Rows as the materialize stage hands them on: the JPEG bytes it wrote, in the block."""
    rows = []
    for i, clip in enumerate(frames):
        names = [f"media/c{i:05d}/frame_{j:05d}.jpg" for j in range(len(clip))]
        rows.append(
            {
                "id": f"c{i}",
                "segment_id": f"c{i}",
                "input": f"clip{i}",
                "status": "ok",
                "videos": [names],
                "video_clips": [],
                "media_bytes": [encode_jpeg(f, 90) for f in clip],
            }
        )
    return rows


def bare(cfg: CaptionConfig, frames: list[list[np.ndarray]], device: str) -> float:
    start = time.perf_counter()
    captioner = open_captioner(cfg, device)
    g = cfg.generation
    for i in range(0, len(frames), cfg.batch_size):
        batch = frames[i : i + cfg.batch_size]
        captioner.generate(
            [
                CaptionRequest(f, p, n)
                for f in batch
                for p, n in ((cfg.short_prompt, g.short_max_new_tokens), (cfg.detailed_prompt, g.max_new_tokens))
            ]
        )
    return time.perf_counter() - start


def staged(cfg: CaptionConfig, rows: list[dict], device: str, gpus: float) -> float:
    start = time.perf_counter()
    ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // cfg.batch_size))
    ds = ds.map_batches(
        CaptionSegments,
        fn_constructor_args=(cfg, device),
        batch_size=cfg.batch_size,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=1),
        num_gpus=gpus,
        num_cpus=1 if gpus else 2,
    )  # on CPU the actor gets both cores, as the bare loop has
    statuses = [r["status"] for r in ds.iter_rows()]
    assert statuses == ["ok"] * len(rows), statuses
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="tiny-random", choices=["tiny-random", "transformers", "vllm"])
    parser.add_argument("--model")
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--clip-seconds", type=float, default=10.0, help="source seconds each clip stands for")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False)
    gpus = ray.cluster_resources().get("GPU", 0)
    device = "cuda" if gpus else "cpu"
    cfg = CaptionConfig(
        backend=args.backend,
        model=args.model,
        batch_size=args.batch_size,
        generation={
            "max_new_tokens": args.max_new_tokens,
            "short_max_new_tokens": args.max_new_tokens // 4,
            "temperature": 0,
        },
        gates={"min_clip_similarity": None},
    )
    frames = clips(args.clips)
    stage_s = staged(cfg, encoded_rows(frames), device, 1 if gpus else 0)
    bare_s = bare(cfg, frames, device)
    for label, seconds in (("bare engine", bare_s), ("Ray Data stage", stage_s)):
        rate = args.clips / seconds
        hours = rate * args.clip_seconds / max(gpus, 1)  # video-seconds per second = video-hours per hour
        print(
            f"{label:16s} {seconds:7.1f} s  {rate:6.2f} clips/s  "
            f"{hours:7.1f} video-hours per {'GPU' if gpus else 'node'}-hour"
        )
    print(
        f"{args.backend} on {device}: {args.clips} clips x 2 captions, batch {args.batch_size}; "
        f"stage overhead {stage_s / bare_s - 1:+.0%}"
    )
    ray.shutdown()


if __name__ == "__main__":
    main()
