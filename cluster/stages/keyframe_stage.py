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
from cluster.sources import read
from cluster.stages.errors import caught, failed_row
from cluster.stages.inputs import InputAccess, opened
from cluster.video.decode import CorruptFrames, read_frames_at
from cluster.video.guard import guarded
from cluster.video.shots import CORRUPT

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
    `keyframe_diffs` and `redundancy` to ok rows; other rows pass through. A segment whose
    keyframes are mostly missing or damaged in the file is filtered as corrupt_frames."""

    def __init__(
        self, count: int, short_side: int, access: InputAccess, max_corrupt: float, tolerate_bugs: bool = False
    ):
        self.count = count
        self.short_side = short_side
        self.access = access
        self.max_corrupt = max_corrupt
        self.caught = caught(tolerate_bugs)

    def __call__(self, row: dict) -> dict:
        row = {**row, "keyframes": []}
        if row["status"] != "ok":
            return row
        probe = row["probe"]
        times = keyframe_times(row["start_s"], row["end_s"], self.count)
        size = model_size(probe["display_height"], probe["display_width"], self.short_side)
        try:
            with opened(row["uri"], self.access, row["source_fingerprint"]) as source:
                args = (times, probe["start_time"], probe["rotation"], size, self.max_corrupt)
                with metrics.timed("vidcurate_decode_seconds", stage="keyframes"):
                    frames = guarded(self.access.guard, row["uri"], 0.0, read, source, read_frames_at, *args)
            metrics.count("vidcurate_frames_decoded", len(frames), stage="keyframes")
        except CorruptFrames as exc:
            return {**row, "status": "filtered", "reason": CORRUPT, "corrupt_frames": exc.bad}
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
