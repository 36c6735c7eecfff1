"""Turn a video's frame timeline and cut list into training segments."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from cluster.video.cuts import Boundary


@dataclass(frozen=True)
class Segment:
    scene_index: int | None  # None for the frames of a transition between two shots
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    filtered_reason: str | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def split_timeline(
    timestamps: np.ndarray,
    duration: float,
    boundaries: list[Boundary],
    min_seconds: float,
    max_seconds: float,
) -> list[Segment]:
    """Scenes between `boundaries`; scenes over `max_seconds` are chopped into equal pieces
    no longer than it; pieces under `min_seconds` are kept as filtered segments with a
    reason, and so are the frames of each transition (reason: its kind), so that every
    frame of the video is in exactly one segment."""
    n = len(timestamps)
    segments: list[Segment] = []
    position, scene_index = 0, 0
    for boundary in [*boundaries, Boundary(n, n, "end")]:
        start, end = min(max(boundary.start, position), n), min(boundary.end, n)
        if start > position:
            segments.extend(_scene(timestamps, duration, scene_index, position, start, min_seconds, max_seconds))
            scene_index += 1
        if end > start:
            segments.append(Segment(None, start, end, *_times(timestamps, duration, start, end), boundary.kind))
        position = max(position, end)
    return segments


def _scene(
    timestamps: np.ndarray, duration: float, index: int, a: int, b: int, min_seconds: float, max_seconds: float
) -> list[Segment]:
    start, end = _times(timestamps, duration, a, b)
    pieces = max(1, math.ceil((end - start) / max_seconds - 1e-9))
    edges = np.round(np.linspace(a, b, pieces + 1)).astype(int)
    out = []
    for s, e in itertools.pairwise(edges):
        start, end = _times(timestamps, duration, int(s), int(e))
        out.append(Segment(index, int(s), int(e), start, end, "too_short" if end - start < min_seconds else None))
    return out


def _times(timestamps: np.ndarray, duration: float, a: int, b: int) -> tuple[float, float]:
    return _time_at(timestamps, a, duration), _time_at(timestamps, b, duration)


def _time_at(timestamps: np.ndarray, index: int, duration: float) -> float:
    return float(timestamps[index]) if index < len(timestamps) else float(timestamps[0]) + duration
