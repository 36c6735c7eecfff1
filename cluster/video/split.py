"""Turn a video's frame timeline and cut list into training segments."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from cluster.video.cuts import Boundary

# A boundary of no frames where the timestamps jump (see probe.py): the video is cut there.
JUMP = "jump"


@dataclass(frozen=True)
class Segment:
    scene_index: int | None  # None for the frames of a transition between two shots
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    filtered_reason: str | None = None
    corrupt_frames: int | None = None  # frames the decoder could not produce or flagged damaged

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Timeline:
    """Frame start times and the interval that ends the last frame; a range of frames ends
    where the next frame starts, or one interval after its last frame before a jump."""

    timestamps: np.ndarray
    step: float
    jumps: frozenset[int] = frozenset()

    def span(self, a: int, b: int) -> tuple[float, float]:
        n = len(self.timestamps)
        start = float(self.timestamps[a]) if a < n else float(self.timestamps[-1]) + self.step
        end = float(self.timestamps[b]) if b < n and b not in self.jumps else float(self.timestamps[b - 1]) + self.step
        return start, end


def split_timeline(
    timestamps: np.ndarray,
    step: float,
    boundaries: list[Boundary],
    min_seconds: float,
    max_seconds: float,
) -> list[Segment]:
    """Scenes between `boundaries` (a JUMP boundary only cuts); scenes over `max_seconds` are
    chopped into equal pieces no longer than it; pieces under `min_seconds` are kept as
    filtered segments with a reason, and so are the frames of each transition (reason: its
    kind), so that every frame of the video is in exactly one segment."""
    timeline = Timeline(timestamps, step, frozenset(b.start for b in boundaries if b.kind == JUMP))
    n = len(timestamps)
    segments: list[Segment] = []
    position, scene_index = 0, 0
    for boundary in [*sorted(boundaries, key=lambda b: (b.start, b.end)), Boundary(n, n, "end")]:
        start, end = min(max(boundary.start, position), n), min(boundary.end, n)
        if start > position:
            segments.extend(_scene(timeline, scene_index, position, start, min_seconds, max_seconds))
            scene_index += 1
        if end > start:
            segments.append(Segment(None, start, end, *timeline.span(start, end), boundary.kind))
        position = max(position, end)
    return segments


def _scene(timeline: Timeline, index: int, a: int, b: int, min_seconds: float, max_seconds: float) -> list[Segment]:
    start, end = timeline.span(a, b)
    pieces = max(1, math.ceil((end - start) / max_seconds - 1e-9))
    edges = np.round(np.linspace(a, b, pieces + 1)).astype(int)
    out = []
    for s, e in itertools.pairwise(edges):
        start, end = timeline.span(int(s), int(e))
        out.append(Segment(index, int(s), int(e), start, end, "too_short" if end - start < min_seconds else None))
    return out
