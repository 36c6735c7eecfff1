"""Speed of light: each pass of a whole run against the bare work it does, in one script.

The run is `python -m jobs.curate` on generated videos (a local Ray with --cpus CPUs, random
ViT-B-32 CLIP, the tiny random captioner, frames written as JPEGs), timed from start to exit
with each pass's wall time from summary.json. Then the same work without vidcurate, on the
same inputs and the same number of cores (a pool of --cpus processes for decoding, torch on
--cpus threads for the models). Both are confined to the machine's first --cpus cores (the
run's Ray processes inherit the affinity), so a 1-CPU figure is that of a one-core machine,
fixed costs included; --all-cores leaves the run free on every core, telling only Ray how
many CPUs to use (how this script measured before 2026-12-08):

  pass 1  one decode of every frame at thumbnail size (the cut pass's decoder), the keyframe
          decodes at the CLIP input size (the run's own keyframe times), a bare open_clip
          forward over those keyframes in the run's batches;
  pass 3  the decode of the training frames (the run's sampled frames and sizes) with their
          JPEG encoding, the bare captioner generating the short and the detailed caption
          from those frames, and CLIP's text tower over every detailed caption (the caption
          gate's similarity, which pass 3 computes for every sample);
  whole   the run against the sum of both.

The issue's list for bare pass 3 names no caption gate; the ratio against that list (the
CLIP text forward left out) is printed too.

    .venv/bin/python tests/benchmarks/bench_speed_of_light.py [--cpus 2] [--minutes 1] [--all-cores]
        [--out bench_output/sol]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

# (name, scene lengths s, width, height, fps): one minute of footage, repeated --minutes times
VIDEOS = [
    ("scenes_360p", [8, 12, 6, 14], 640, 360, 25),
    ("hd_720p", [7, 8], 1280, 720, 30),
    ("portrait", [5, 6], 360, 640, 25),
]
BATCH = 16  # scoring.batch_size: segments per CLIP actor call


def config(out: Path, cpus: int) -> dict:
    """The demo's settings, with more keyframes scored in larger batches and no static filter."""
    from jobs.demo import OFFLINE_SECTIONS

    return {
        **OFFLINE_SECTIONS,
        "input": {"manifest": str(out / "videos")},
        "output": {"root": str(out / "run"), "replace": True},
        "scoring": {**OFFLINE_SECTIONS["scoring"], "keyframes": 4, "batch_size": BATCH},
        "filters": {**OFFLINE_SECTIONS["filters"], "max_redundancy": None},
        "ray": {"num_cpus": cpus},
    }


def generate(out: Path, minutes: int) -> None:
    from cluster.video.synth import write_scene_video

    for seed, (name, scenes, w, h, fps) in enumerate(VIDEOS):
        path = out / "videos" / f"{name}_{minutes}min.mp4"
        if not path.exists():
            write_scene_video(path, scenes * minutes, width=w, height=h, fps=fps, seed=seed)


def confine(cpus: int | None) -> None:
    """This process, and every process it starts, on the first `cpus` cores (None: all)."""
    if cpus is not None:
        os.sched_setaffinity(0, range(cpus))


def whole_run(out: Path, cpus: int) -> dict:
    import shutil

    shutil.rmtree(out / "run", ignore_errors=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config(out, cpus)))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    start = time.perf_counter()
    with open(out / "run.log", "w") as log:
        subprocess.run(
            [sys.executable, "-m", "jobs.curate", "--config", str(out / "config.yaml")],
            cwd=REPO,
            env=env,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wall = time.perf_counter() - start
    summary = json.loads((out / "run" / "summary.json").read_text())
    return {"wall_s": wall, **{f"{k}_s": v for k, v in summary["timings_s"].items()}}


# --- the bare work, in worker processes ---------------------------------------------------


def thumbnails(path: str) -> int:
    from cluster.video.decode import iter_analysis_frames

    return sum(len(batch) for batch in iter_analysis_frames(path, threads=1))


def keyframes(job: dict) -> list[bytes]:
    from PIL import Image

    from cluster.video.decode import read_frames_at

    frames = read_frames_at(job["uri"], job["times"], job["start"], job["rotation"], job["size"])
    out = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=95)
        out.append(buffer.getvalue())
    return out


def training_frames(job: dict) -> list[np.ndarray]:
    from cluster.video.decode import read_frames_at
    from cluster.video.media import encode_jpeg

    frames = read_frames_at(job["uri"], job["times"], job["start"], job["rotation"], job["size"])
    for frame in frames:
        encode_jpeg(frame, 90)
    return frames


def timed_pool(fn, jobs: list, cpus: int) -> tuple[float, list]:
    with ProcessPoolExecutor(cpus, mp_context=get_context("spawn")) as pool:
        list(pool.map(_warm, range(cpus)))  # imports done before the clock starts, as in long-lived workers
        start = time.perf_counter()
        results = list(pool.map(fn, jobs))
        return time.perf_counter() - start, results


def _warm(_: int) -> None:
    import cluster.video.decode
    import cluster.video.media  # noqa: F401


def bare(out: Path, cpus: int) -> dict:
    from cluster.stages.keyframe_stage import model_size

    candidates = pq.read_table(out / "run" / "candidates").to_pylist()
    ok = [r for r in candidates if r["status"] == "ok" and r["keyframe_times"]]
    samples = pq.read_table(out / "run" / "dataset").to_pylist()
    by_segment = {r["segment_id"]: r for r in candidates}
    result: dict[str, float] = {}

    videos = sorted({r["uri"] for r in candidates if r["probe"]})
    result["thumbnails_s"], _ = timed_pool(thumbnails, videos, cpus)
    jobs = [
        {
            "uri": r["uri"],
            "times": r["keyframe_times"],
            "start": r["probe"]["start_time"],
            "rotation": r["probe"]["rotation"],
            "size": model_size(r["probe"]["display_height"], r["probe"]["display_width"], 224),
        }
        for r in ok
    ]
    result["keyframes_s"], jpegs = timed_pool(keyframes, jobs, cpus)
    result["clip_s"] = clip_forward(jpegs, cpus)

    train_jobs = []
    for s in samples:
        segment, video = by_segment[s["segment_id"]], s["media"][0]
        train_jobs.append(
            {
                "uri": segment["uri"],
                "times": [segment["frame_times"][i] for i in video["frame_indices"]],
                "start": segment["probe"]["start_time"],
                "rotation": segment["probe"]["rotation"],
                "size": (video["stored_height"], video["stored_width"]),
            }
        )
    result["training_frames_s"], frames = timed_pool(training_frames, train_jobs, cpus)
    result["captioner_s"] = captioner(frames, out, cpus)
    result["caption_clip_s"] = caption_clip([s["caption_detailed"] or " " for s in samples], out, cpus)
    result["pass1_s"] = result["thumbnails_s"] + result["keyframes_s"] + result["clip_s"]
    result["pass3_s"] = result["training_frames_s"] + result["captioner_s"] + result["caption_clip_s"]
    result["segments"], result["samples"] = len(ok), len(samples)
    return result


def clip_forward(jpegs: list[list[bytes]], cpus: int) -> float:
    import open_clip
    import torch
    from PIL import Image

    torch.set_num_threads(cpus)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(jpegs), BATCH):
            images = [Image.open(io.BytesIO(b)).convert("RGB") for row in jpegs[i : i + BATCH] for b in row]
            model.encode_image(torch.stack([preprocess(im) for im in images]))
    return time.perf_counter() - start


def caption_clip(captions: list[str], out: Path, cpus: int) -> float:
    import open_clip
    import torch

    from jobs.config import parse_config

    torch.set_num_threads(cpus)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    size = parse_config(config(out, cpus)).caption.batch_size
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(captions), size):
            model.encode_text(tokenizer(captions[i : i + size]))
    return time.perf_counter() - start


def captioner(frames: list[list[np.ndarray]], out: Path, cpus: int) -> float:
    import torch

    from cluster.caption.backends import open_captioner
    from cluster.caption.requests import CaptionRequest
    from jobs.config import parse_config

    torch.set_num_threads(cpus)
    c = parse_config(config(out, cpus)).caption
    model = open_captioner(c, "cpu")
    prompts = [(c.short_prompt, c.generation.short_max_new_tokens), (c.detailed_prompt, c.generation.max_new_tokens)]
    start = time.perf_counter()
    for i in range(0, len(frames), c.batch_size):
        model.generate(
            [CaptionRequest(f, text, budget) for f in frames[i : i + c.batch_size] for text, budget in prompts]
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--minutes", type=int, default=1, help="footage: this many minutes of each kind of video")
    parser.add_argument("--out", default="bench_output/sol")
    parser.add_argument("--all-cores", action="store_true", help="run on every core; only Ray is told --cpus")
    args = parser.parse_args()
    out = Path(args.out).resolve() / f"{args.minutes}min"
    generate(out, args.minutes)
    confine(None if args.all_cores else args.cpus)
    run = whole_run(out, args.cpus)
    work = bare(out, args.cpus)
    results = f"results_{args.cpus}cpu{'_all_cores' if args.all_cores else ''}.json"
    (out / results).write_text(json.dumps({"run": run, "bare": work}, indent=1))
    print(json.dumps({"run": run, "bare": work}))
    rows = [
        ("pass 1 (segment)", run["segment_s"], work["pass1_s"]),
        ("pass 3 (materialize)", run["materialize_s"], work["pass3_s"]),
        ("whole run", run["wall_s"], work["pass1_s"] + work["pass3_s"]),
    ]
    where = "on every core" if args.all_cores else f"confined to {args.cpus} cores"
    print(f"\n{args.cpus} CPUs ({where}), {work['segments']} segments, {work['samples']} samples")
    print(f"{'':22s} {'vidcurate s':>12s} {'bare s':>8s} {'ratio':>6s}")
    for name, ours, theirs in rows:
        print(f"{name:22s} {ours:12.1f} {theirs:8.1f} {ours / theirs:6.2f}")
    without_gate = work["pass3_s"] - work["caption_clip_s"]
    print(
        f"bare pass 3 without the caption gate's CLIP text forward ({work['caption_clip_s']:.1f} s): "
        f"{without_gate:.1f} s, ratio {run['materialize_s'] / without_gate:.2f}"
    )


if __name__ == "__main__":
    main()
