"""Shot-boundary detection over a stream of small YUV thumbnails.

Per frame the pass keeps a few numbers only: its mean absolute difference to each of the
last `lags` frames, and its luma mean and spread; and for each dissolve half-width h, its
difference to the frame 2h before, how far the frame h before lies from the mean of the
two, and the luma correlation of the two. From those:
- a hard cut is a frame whose difference to the frame before is high in absolute terms and
  stands out from its neighbours (fast motion raises every score in a window; a cut one);
- a flash is a spike that returns to the content before it within `flash_frames`: the
  frames after it match the frame before it, so it is not a cut;
- a cross-dissolve is a window of 2h frames whose ends differ (different shots: low luma
  correlation, unlike a change of exposure), whose middle frame is the mean of its ends (a
  hard cut's is one of them), whose luma spread dips as a blend's does (a pan over smooth
  content keeps it), whose steps add up to about that difference (steady motion wanders
  far further) and with no single step that dominates it (a hard cut);
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
    fade_levels: tuple[float, float] = (40.0, 215.0)  # a fade's flat frames are darker or brighter than these
    fade_step: float = 0.25  # a fade ramp's luma spread changes by at least this much per frame
    max_fade_frames: int = 60  # ramp frames followed at most on each side of a flat run
    blank_frames: int = 50  # a flat run this long is blank footage, not a fade
    dissolve_halves: tuple[int, ...] = (4, 6, 9, 13, 18)  # half-widths h of the dissolve windows tried
    dissolve_min_score: float = 12.0  # the window's ends differ by at least this
    dissolve_linearity: float = 0.25  # middle frame off the mean of the ends by at most this share of it
    dissolve_straightness: float = 0.5  # the ends' difference over the sum of the window's steps
    dissolve_max_step: float = 0.34  # no single step above this share of the ends' difference
    dissolve_max_correlation: float = 0.8  # luma correlation of the ends (same shot: near 1)
    dissolve_variance: float = 0.5  # middle frame's luma spread: 0 = that of a blend of the ends, 1 = theirs

    @property
    def lags(self) -> int:
        return self.flash_frames + 1

    @property
    def history(self) -> int:
        """Frames before a frame that its statistics read."""
        return max(self.lags, 2 * max(self.dissolve_halves, default=0))


@dataclass(frozen=True)
class Boundary:
    """Frames [start, end) between two shots; a hard cut has start == end (its first new frame)."""

    start: int
    end: int
    kind: str  # cut | dissolve | fade | blank; transition (a gradual one of a model's, kind unknown)


STAT_FIELDS = ("back", "wide", "middle", "correlation", "luma_mean", "luma_std")


@dataclass
class FrameStats:
    """Per-frame numbers of a thumbnail pass; NaN where a frame before frame 0 would be read."""

    back: np.ndarray  # (N, lags): back[j, k] = difference(frame j-k-1, frame j)
    wide: np.ndarray  # (N, halves): difference(frame j-2h, frame j)
    middle: np.ndarray  # (N, halves): mean |frame j-h - (frame j-2h + frame j) / 2|
    correlation: np.ndarray  # (N, halves): luma correlation of frames j-2h and j
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
    the first batch) makes the first frames' statistics those of an unbroken pass."""

    def __init__(self, params: CutParams, history: np.ndarray | None = None):
        self.params = params
        self.tail = np.zeros((0, 0), np.int16) if history is None else history.astype(np.int16)
        self.parts: list[FrameStats] = []

    def push(self, batch: np.ndarray) -> None:
        frames = batch.astype(np.int16)
        context = np.concatenate([self.tail, frames]) if len(self.tail) else frames
        offset, n = len(context) - len(frames), len(frames)

        def at(lag: int) -> tuple[int, np.ndarray]:
            """First new frame with a frame `lag` before it, and those earlier frames."""
            first = min(n, max(0, lag - offset))
            return first, context[offset + first - lag : len(context) - lag]

        halves = self.params.dissolve_halves
        back = np.full((n, self.params.lags), np.nan, np.float32)
        wide, middle, correlation = (np.full((n, len(halves)), np.nan, np.float32) for _ in range(3))
        for k in range(self.params.lags):
            first, before = at(k + 1)
            back[first:, k] = _mean_abs(frames[first:] - before)
        luma = context[:, :LUMA].astype(np.float32)
        y = luma[offset:]
        luma_mean, luma_std = y.mean(axis=1), y.std(axis=1)
        luma -= luma.mean(axis=1, keepdims=True)
        luma /= np.maximum(np.linalg.norm(luma, axis=1, keepdims=True), 1e-6)
        for q, h in enumerate(halves):
            first, start = at(2 * h)
            _, centre = at(h)
            now = frames[first:]
            wide[first:, q] = _mean_abs(now - start)
            middle[first:, q] = _mean_abs(2 * centre[len(centre) - len(now) :] - start - now) / 2
            correlation[first:, q] = np.einsum(
                "ij,ij->i", luma[offset + first :], luma[offset + first - 2 * h : len(luma) - 2 * h]
            )
        self.parts.append(FrameStats(back, wide, middle, correlation, luma_mean, luma_std))
        self.tail = context[-self.params.history :]

    def finish(self) -> FrameStats:
        return concat_stats(self.parts, self.params)


def _mean_abs(d: np.ndarray) -> np.ndarray:
    return np.abs(d).sum(axis=1, dtype=np.int32) / np.float32(d.shape[1])


def concat_stats(parts: list[FrameStats], params: CutParams) -> FrameStats:
    if not parts:
        halves = len(params.dissolve_halves)
        empty = np.zeros(0, np.float32)
        return FrameStats(
            np.zeros((0, params.lags), np.float32), *(np.zeros((0, halves), np.float32),) * 3, empty, empty
        )
    return FrameStats(*(np.concatenate([getattr(p, f) for p in parts]) for f in STAT_FIELDS))


def frame_stats(batches: Iterable[np.ndarray], params: CutParams = CutParams()) -> FrameStats:
    stream = StatsStream(params)
    for batch in batches:
        stream.push(batch)
    return stream.finish()


def detect_boundaries(stats: FrameStats, params: CutParams = CutParams()) -> list[Boundary]:
    """Every shot boundary, in order and not overlapping: fades and blank runs, dissolves
    that overlap none of them, then the hard cuts that are neither flashes nor inside a
    gradual transition."""
    regions = flat_regions(stats, params)
    regions += [d for d in dissolves(stats, params) if not any(_overlap(d, r, 0) for r in regions)]
    cuts = [c for c in detect_cuts(stats.score, params) if not is_flash(stats, c, params)]
    margin = 2  # a cut right after a transition is a cut; one on a fade's ramp is part of it
    found = regions + [
        Boundary(c, c, "cut") for c in cuts if not any(_overlap(Boundary(c, c, ""), r, margin) for r in regions)
    ]
    return sorted(found, key=lambda b: b.start)


def _blend_spread(a: np.ndarray, b: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """Luma spread of the half-and-half blend of two frames with spreads a and b."""
    return np.sqrt(np.maximum(a * a + b * b + 2 * correlation * a * b, 0)) / 2


def _overlap(a: Boundary, b: Boundary, margin: int) -> bool:
    return a.start <= b.end + margin and b.start - margin <= a.end


def dissolves(stats: FrameStats, params: CutParams = CutParams()) -> list[Boundary]:
    """Cross-dissolves: runs of window centres that pass every test for some half-width.
    The tests hold over about the middle 60% of a dissolve, so each run is widened by a
    third of its length on both sides."""
    n = len(stats)
    score = stats.score
    steps = np.concatenate([[0.0], np.cumsum(score, dtype=np.float64)])
    passing = np.zeros(n, bool)
    for q, h in enumerate(params.dissolve_halves):
        if n <= 2 * h:
            continue
        ends = np.arange(2 * h, n)
        wide = stats.wide[ends, q]
        path = steps[ends + 1] - steps[ends + 1 - 2 * h]
        largest = np.lib.stride_tricks.sliding_window_view(score[1:], 2 * h).max(axis=1)
        spread_ends = (stats.luma_std[ends - 2 * h] + stats.luma_std[ends]) / 2
        blend = _blend_spread(stats.luma_std[ends - 2 * h], stats.luma_std[ends], stats.correlation[ends, q])
        with np.errstate(invalid="ignore"):
            ok = (
                (wide >= params.dissolve_min_score)
                & (stats.middle[ends, q] <= params.dissolve_linearity * wide)
                & (wide >= params.dissolve_straightness * path)
                & (largest <= params.dissolve_max_step * wide)
                & (stats.correlation[ends, q] <= params.dissolve_max_correlation)
                & (stats.luma_std[ends - h] <= blend + params.dissolve_variance * (spread_ends - blend))
            )
        passing[ends[ok] - h] = True
    found: list[Boundary] = []
    for a, b in runs(passing):
        widen = max(1, round((b - a) / 3))
        start, end = max(0, a - widen), min(n, b + widen)
        if found and start <= found[-1].end + params.min_scene_frames:  # no shot between them: one dissolve
            start = found.pop().start
        found.append(Boundary(start, end, "dissolve"))
    return found


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
    """Fades (a short black or white flat run with its ramps) and blank runs (long flat runs
    of any colour); a flat blip whose content returns within flash_frames (a white flash)
    is neither."""
    regions: list[Boundary] = []
    for a, b in runs(stats.luma_std < params.flat_luma_std):
        if b - a >= params.blank_frames:
            regions.append(Boundary(a, b, "blank"))
            continue
        dark, bright = params.fade_levels
        if dark < float(np.mean(stats.luma_mean[a:b])) < bright:  # a plain sky or wall, not black or white
            continue
        start, end = _ramp(stats.luma_std, a, -1, params), _ramp(stats.luma_std, b - 1, 1, params) + 1
        if end - start <= params.flash_frames and _returns(stats, start, end, params):
            continue
        if regions and start <= regions[-1].end:
            start = regions[-1].start
            regions.pop()
        regions.append(Boundary(start, end, "fade"))
    return regions


def model_boundaries(
    centres: np.ndarray, inside: np.ndarray, threshold: float, min_scene_frames: int, max_cut_frames: int = 2
) -> list[Boundary]:
    """Boundaries from a model's per-frame probabilities (TransNetV2's two heads): that a
    transition is centred on the frame, and that the frame is inside one. Each run of
    centres above `threshold` is a boundary spanning the inside-run around it: a hard cut
    when that is at most `max_cut_frames` long (they are the frames before the cut), a
    gradual transition otherwise, whose frames belong to neither shot. Transitions with
    fewer than `min_scene_frames` between them are one."""
    extents = runs(inside > threshold)
    found: list[Boundary] = []
    for start, end in runs(centres > threshold):
        around = [(a, b) for a, b in extents if a < end and start < b]
        lo, hi = min([start, *(a for a, _ in around)]), max([end, *(b for _, b in around)])
        boundary = Boundary(hi, hi, "cut") if hi - lo <= max_cut_frames else Boundary(lo, hi, "transition")
        if (
            found
            and boundary.start - found[-1].end < min_scene_frames
            and "transition" in (boundary.kind, found[-1].kind)
        ):
            boundary = Boundary(min(found.pop().start, boundary.start), boundary.end, "transition")
        found.append(boundary)
    return found


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in `mask`."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))).tolist()
    return list(zip(edges[::2], edges[1::2], strict=True))


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
