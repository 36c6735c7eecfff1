"""Turn a video's frame timeline and cut list into training segments."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    scene_index: int
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    filtered_reason: str | None = None

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def split_timeline(
    timestamps: np.ndarray,
    duration: float,
    cuts: list[int],
    min_seconds: float,
    max_seconds: float,
) -> list[Segment]:
    """Scenes from `cuts`; scenes over `max_seconds` are chopped into equal pieces no longer
    than it; pieces under `min_seconds` are kept as filtered segments with a reason."""
    n = len(timestamps)
    bounds = [0, *[c for c in cuts if 0 < c < n], n]
    segments: list[Segment] = []
    for scene_index, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        scene_len = _time_at(timestamps, b, duration) - _time_at(timestamps, a, duration)
        pieces = max(1, math.ceil(scene_len / max_seconds - 1e-9))
        edges = np.round(np.linspace(a, b, pieces + 1)).astype(int)
        for s, e in zip(edges[:-1], edges[1:]):
            start, end = _time_at(timestamps, s, duration), _time_at(timestamps, e, duration)
            reason = "too_short" if end - start < min_seconds else None
            segments.append(Segment(scene_index, int(s), int(e), start, end, reason))
    return segments


def _time_at(timestamps: np.ndarray, index: int, duration: float) -> float:
    return float(timestamps[index]) if index < len(timestamps) else float(timestamps[0]) + duration
