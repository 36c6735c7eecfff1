"""Pass-1 stage: decode K evenly spaced keyframes per segment at model input resolution.

Runs on CPU workers; the keyframes leave as JPEG bytes so that decoding never happens
inside the (possibly GPU) scoring actors and raw frames never cross a second boundary.
The frame-difference (redundancy) score needs no model and is computed here.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from cluster import metrics
from cluster.scores import REDUNDANCY_SIZE, frame_differences, redundancy_score
from cluster.stages.errors import caught, failed_row
from cluster.storage import check_unchanged, local_copy
from cluster.video.decode import read_frames_at
from cluster.video.guard import GuardSettings, guarded

JPEG_QUALITY = 95


def keyframe_times(start_s: float, end_s: float, k: int) -> list[float]:
    """Centres of k equal slices of the segment (never its first or last frame, which
    may straddle a cut)."""
    step = (end_s - start_s) / k
    return [start_s + step * (i + 0.5) for i in range(k)]


def model_size(display_h: int, display_w: int, short_side: int) -> tuple[int, int]:
    """Display-aspect size whose short side is the model's input side."""
    scale = short_side / min(display_h, display_w)
    return max(short_side, round(display_h * scale)), max(short_side, round(display_w * scale))


class DecodeKeyframes:
    """Callable for `Dataset.map`: adds `keyframes` (JPEG bytes), `keyframe_times`,
    `keyframe_diffs` and `redundancy` to ok rows; other rows pass through."""

    def __init__(self, count: int, short_side: int, guard: GuardSettings, tolerate_bugs: bool = False):
        self.count = count
        self.short_side = short_side
        self.guard = guard
        self.caught = caught(tolerate_bugs)

    def __call__(self, row: dict) -> dict:
        row = {**row, "keyframes": []}
        if row["status"] != "ok":
            return row
        probe = row["probe"]
        times = keyframe_times(row["start_s"], row["end_s"], self.count)
        size = model_size(probe["display_height"], probe["display_width"], self.short_side)
        try:
            check_unchanged(row["uri"], row["source_fingerprint"])
            with local_copy(row["uri"]) as path:
                args = (path, times, probe["start_time"], probe["rotation"], size)
                with metrics.timed("vidcurate_decode_seconds", stage="keyframes"):
                    frames = guarded(self.guard, row["uri"], 0.0, read_frames_at, *args)
            metrics.count("vidcurate_frames_decoded", len(frames), stage="keyframes")
        except self.caught as exc:
            return {**row, **failed_row("keyframes", row["uri"], exc)}
        diffs = frame_differences(np.stack([_gray(f) for f in frames]))
        return {
            **row,
            "keyframes": [_jpeg(f) for f in frames],
            "keyframe_times": [round(t, 6) for t in times],
            "keyframe_diffs": diffs.tolist(),
            "redundancy": redundancy_score(diffs),
        }


def decode_jpeg(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _jpeg(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _gray(frame: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).convert("L").resize(REDUNDANCY_SIZE, Image.Resampling.BILINEAR))
