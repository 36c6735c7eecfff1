"""Shot-boundary detection over a stream of small YUV thumbnails.

Per frame the pass keeps a few numbers only: its mean absolute difference to each of the
last `lags` frames, and its luma mean and spread. From those:
- a hard cut is a frame whose difference to the frame before is high in absolute terms and
  stands out from its neighbours (fast motion raises every score in a window; a cut one);
- a flash is a spike that returns to the content before it within `flash_frames`: the
  frames after it match the frame before it, so it is not a cut;
- a fade through black or white is a run of flat frames (little luma spread) with the
  ramps that lead into and out of it; those frames belong to neither shot;
- a flat run longer than `blank_frames` is blank footage, kept out of every shot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from cluster.video.decode import ANALYSIS_SIZE

LUMA = ANALYSIS_SIZE[0] * ANALYSIS_SIZE[1]


@dataclass(frozen=True)
class CutParams:
    min_score: float = 12.0  # absolute floor on the mean abs difference (0-255 scale)
    ratio: float = 2.5  # score over the mean of the neighbouring scores
    window: int = 4  # neighbours each side used for that mean
    min_scene_frames: int = 8  # cuts closer than this to the previous cut are ignored
    flash_frames: int = 4  # a spike whose content returns within this many frames is a flash
    flash_return: float = 0.5  # "returns": differs from the pre-flash frame by under this share of the spike
    flat_luma_std: float = 4.0  # a frame with luma spread under this is flat (black, white, one colour)
    fade_step: float = 0.25  # a fade ramp's luma spread changes by at least this much per frame
    max_fade_frames: int = 60  # ramp frames followed at most on each side of a flat run
    blank_frames: int = 50  # a flat run this long is blank footage, not a fade

    @property
    def lags(self) -> int:
        return self.flash_frames + 1


@dataclass(frozen=True)
class Boundary:
    """Frames [start, end) between two shots; a hard cut has start == end (its first new frame)."""

    start: int
    end: int
    kind: str  # cut | fade | blank


@dataclass
class FrameStats:
    back: np.ndarray  # (N, lags): back[j, k] = difference(frame j-k-1, frame j); NaN before frame 0
    luma_mean: np.ndarray
    luma_std: np.ndarray

    @property
    def score(self) -> np.ndarray:
        """Difference of each frame to the one before; frame 0 scores 0."""
        return np.nan_to_num(self.back[:, 0])

    def __len__(self) -> int:
        return len(self.luma_mean)


class StatsStream:
    """FrameStats of thumbnail batches pushed in order. `history` (the thumbnails just before
    the first batch) makes the first frames' differences those of an unbroken pass."""

    def __init__(self, lags: int, history: np.ndarray | None = None):
        self.lags = lags
        self.tail = np.zeros((0, 0), np.int16) if history is None else history.astype(np.int16)
        self.parts: list[FrameStats] = []

    def push(self, batch: np.ndarray) -> None:
        frames = batch.astype(np.int16)
        context = np.concatenate([self.tail, frames]) if len(self.tail) else frames
        offset = len(context) - len(frames)
        back = np.full((len(frames), self.lags), np.nan, np.float32)
        for k in range(self.lags):
            first = max(0, k + 1 - offset)
            if first < len(frames):
                now = context[offset + first :]
                before = context[offset + first - k - 1 : len(context) - k - 1]
                back[first:, k] = np.abs(now - before).mean(axis=1)
        luma = frames[:, :LUMA].astype(np.float32)
        self.parts.append(FrameStats(back, luma.mean(axis=1), luma.std(axis=1)))
        self.tail = context[-self.lags :]

    def finish(self) -> FrameStats:
        return concat_stats(self.parts, self.lags)


def concat_stats(parts: list[FrameStats], lags: int) -> FrameStats:
    if not parts:
        empty = np.zeros(0, np.float32)
        return FrameStats(np.zeros((0, lags), np.float32), empty, empty)
    return FrameStats(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("back", "luma_mean", "luma_std")))


def frame_stats(batches: Iterable[np.ndarray], lags: int = CutParams().lags) -> FrameStats:
    stream = StatsStream(lags)
    for batch in batches:
        stream.push(batch)
    return stream.finish()


def detect_boundaries(stats: FrameStats, params: CutParams = CutParams()) -> list[Boundary]:
    """Every shot boundary, in order and not overlapping: fades and blank runs first, then
    the hard cuts that are neither flashes nor inside (or beside) one of those."""
    regions = flat_regions(stats, params)
    cuts = [c for c in detect_cuts(stats.score, params) if not is_flash(stats, c, params)]
    margin = params.min_scene_frames
    found = regions + [
        Boundary(c, c, "cut") for c in cuts if not any(r.start - margin <= c <= r.end + margin for r in regions)
    ]
    return sorted(found, key=lambda b: b.start)


def detect_cuts(scores: np.ndarray, params: CutParams = CutParams()) -> list[int]:
    """Indices of the first frame of each new scene after a hard cut."""
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


def is_flash(stats: FrameStats, c: int, params: CutParams) -> bool:
    """Whether the spike at frame c is a flash's onset (a later frame matches frame c-1) or
    its end (frame c matches a frame before the spike)."""
    limit = params.flash_return * stats.score[c]
    n = len(stats)
    onset = [stats.back[c + m, m] for m in range(1, params.flash_frames + 1) if c + m < n]
    end = stats.back[c, 1 : params.flash_frames + 1]
    returns = np.asarray([*onset, *end], np.float64)
    return bool(np.any(returns[~np.isnan(returns)] <= limit))


def flat_regions(stats: FrameStats, params: CutParams) -> list[Boundary]:
    """Fades (a flat run with its ramps) and blank runs; a flat blip whose content returns
    within flash_frames (a white flash) is neither."""
    flat = stats.luma_std < params.flat_luma_std
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(np.int8), [0]])))
    regions: list[Boundary] = []
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a >= params.blank_frames:
            regions.append(Boundary(int(a), int(b), "blank"))
            continue
        start, end = _ramp(stats.luma_std, int(a), -1, params), _ramp(stats.luma_std, int(b) - 1, 1, params) + 1
        if end - start <= params.flash_frames and _returns(stats, start, end, params):
            continue
        if regions and start <= regions[-1].end:
            start = regions[-1].start
            regions.pop()
        regions.append(Boundary(start, end, "fade"))
    return regions


def _ramp(spread: np.ndarray, edge: int, step: int, params: CutParams) -> int:
    """The last frame, walking from `edge` by `step`, of the monotone luma-spread ramp that
    leads away from a flat run."""
    i = edge
    for _ in range(params.max_fade_frames):
        j = i + step
        if not 0 <= j < len(spread) or spread[j] < spread[i] + params.fade_step:
            break
        i = j
    return i


def _returns(stats: FrameStats, start: int, end: int, params: CutParams) -> bool:
    if start == 0 or end >= len(stats):
        return False
    across = stats.back[end, end - start]
    return bool(across <= params.flash_return * max(stats.score[start], params.min_score))
