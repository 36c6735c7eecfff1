"""Content-based scene-cut detection over a stream of small YUV thumbnails.

Score of frame i: mean absolute difference to frame i-1 over luma and chroma. A frame is a
cut when its score is high in absolute terms and stands out from its neighbours (fast
motion raises every score in a window; a cut raises one). Pure numpy, streaming: only the
per-frame scores (4 bytes a frame) are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CutParams:
    min_score: float = 12.0  # absolute floor on the mean abs difference (0-255 scale)
    ratio: float = 2.5  # score over the mean of the neighbouring scores
    window: int = 4  # neighbours each side used for that mean
    min_scene_frames: int = 8  # cuts closer than this to the previous cut are ignored


def frame_scores(batches: Iterable[np.ndarray]) -> np.ndarray:
    """Per-frame difference scores; frame 0 scores 0."""
    scores: list[np.ndarray] = []
    last: np.ndarray | None = None
    for batch in batches:
        frames = batch.astype(np.int16)
        previous = frames[:1] if last is None else last[None]
        scores.append(np.abs(np.diff(np.concatenate([previous, frames]), axis=0)).mean(axis=1).astype(np.float32))
        last = frames[-1]
    return np.concatenate(scores) if scores else np.zeros(0, np.float32)


def difference(before: np.ndarray, after: np.ndarray) -> np.float32:
    """The score of thumbnail `after` following `before`, as frame_scores computes it."""
    return frame_scores([np.stack([before, after])])[1]


def detect_cuts(scores: np.ndarray, params: CutParams = CutParams()) -> list[int]:
    """Indices of the first frame of each new scene."""
    n = len(scores)
    if n < 2:
        return []
    w = params.window
    padded = np.pad(scores.astype(np.float64), w, mode="edge")
    window_sum = np.convolve(padded, np.ones(2 * w + 1), mode="valid")
    neighbour_mean = (window_sum - scores) / (2 * w)
    candidates = np.flatnonzero((scores >= params.min_score) & (scores >= params.ratio * neighbour_mean))
    cuts: list[int] = []
    for i in candidates:
        if i == 0:
            continue
        if cuts and i - cuts[-1] < params.min_scene_frames:
            if scores[i] > scores[cuts[-1]]:
                cuts[-1] = int(i)
            continue
        cuts.append(int(i))
    return cuts
