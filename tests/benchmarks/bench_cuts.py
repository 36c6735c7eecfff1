"""Cut-detection benchmark: vidcurate's detector vs PySceneDetect ContentDetector.

Builds videos from clips of ../shared/videos joined at known cut frames (clips are taken
from stretches of those videos that hold no cut, fade or dissolve of their own), runs both
detectors on the same files in this one process, and prints precision/recall/F1 (a
detection within 2 frames of a true cut counts) and wall time.

    .venv/bin/python tests/benchmarks/bench_cuts.py [--out bench_output/cuts]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media_files import clip

from cluster.video.cuts import CutParams, detect_boundaries
from cluster.video.scan import scene_stats
from cluster.video.synth import write_video

SHARED = Path(__file__).resolve().parents[3] / "shared" / "videos"
# (file, first second, last second) of stretches with no cut, fade or dissolve of their own;
# bench_transitions.py builds from them too
SOURCES = [
    ("chaplin.mp4", 0.0, 9.5),
    ("example.mp4", 0.0, 15.5),
    ("video_with_failing_audio.mp4", 0.0, 9.0),
    ("testvideo.mp4", 1.2, 5.9),  # 29.97 fps: it fades at 0-1 s and 6.9-7.8 s, cuts at 6.0 s, ...
    ("testvideo.mp4", 7.9, 11.2),
    ("testvideo.mp4", 14.0, 17.5),
    ("testvideo.mp4", 18.9, 23.1),
    ("big_buck_bunny_0_30.webm", 1.5, 11.5),
    ("big_buck_bunny_0_30.webm", 16.0, 22.5),
]
SIZE = (360, 640)
FPS = 25
TOLERANCE = 2


def build(out: Path, seed: int, clips: int = 18) -> tuple[Path, list[int]]:
    rng = np.random.default_rng(seed)
    frames, cuts, previous = [], [], None
    for _ in range(clips):
        choice = int(rng.integers(len(SOURCES)))
        while choice == previous:  # consecutive clips from different stretches
            choice = int(rng.integers(len(SOURCES)))
        previous = choice
        name, lo, hi = SOURCES[choice]
        seconds = min(float(rng.uniform(1.0, 4.0)), hi - lo)
        start = float(rng.uniform(lo, max(lo, hi - seconds)))
        if frames:
            cuts.append(len(frames))
        frames.extend(clip(SHARED / name, start, math.ceil(seconds * FPS), size=SIZE))
    path = write_video(out / f"joined_{seed}.mp4", iter(frames), FPS, crf=23)
    return path, cuts


def f1(found: list[int], truth: list[int]) -> tuple[float, float, float]:
    matched, used = 0, set()
    for t in truth:
        hit = next((f for f in found if abs(f - t) <= TOLERANCE and f not in used), None)
        if hit is not None:
            matched += 1
            used.add(hit)
    precision = matched / len(found) if found else 1.0
    recall = matched / len(truth) if truth else 1.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def ours(path: Path) -> list[int]:
    return [b.start for b in detect_boundaries(scene_stats(str(path), CutParams()))]


def pyscenedetect(path: Path) -> list[int]:
    from scenedetect import ContentDetector, detect

    scenes = detect(str(path), ContentDetector())
    return [start.get_frames() for start, _ in scenes[1:]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench_output/cuts")
    parser.add_argument("--videos", type=int, default=3)
    args = parser.parse_args()
    out = Path(args.out)
    files = [build(out, seed) for seed in range(args.videos)]
    totals = {}
    for label, fn in [("vidcurate", ours), ("pyscenedetect ContentDetector", pyscenedetect)]:
        elapsed, scores = 0.0, []
        for path, truth in files:
            t = time.perf_counter()
            found = fn(path)
            elapsed += time.perf_counter() - t
            scores.append(f1(found, truth))
        p, r, f = (float(np.mean([s[i] for s in scores])) for i in range(3))
        totals[label] = (p, r, f, elapsed)
        print(f"{label:32s} precision {p:.3f} recall {r:.3f} F1 {f:.3f} time {elapsed:.2f}s")
    speedup = totals["pyscenedetect ContentDetector"][3] / totals["vidcurate"][3]
    cuts = sum(len(t) for _, t in files)
    frames = sum(probe_frames(p) for p, _ in files)
    print(
        f"{len(files)} videos, {frames} frames at {SIZE[1]}x{SIZE[0]}, {cuts} true cuts; "
        f"vidcurate is {speedup:.1f}x faster"
    )


def probe_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return c.streams.video[0].frames


if __name__ == "__main__":
    main()
