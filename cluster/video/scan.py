"""The thumbnail pass over a whole video, decoded on every CPU the task has.

FFmpeg's frame threading scales poorly on this pass: its frames are decoded fast and the
threads mostly wait on each other (two threads ran 1.1x faster for 35% more CPU on 640x360
H.264). So the pass cuts the file at keyframes into one stretch per CPU and decodes each
on its own single-threaded decoder in a thread of this process (PyAV releases the GIL
while decoding). Joined with the score across each boundary, the stretches give exactly
the scores of one sequential pass; only per-frame scores are kept, never frames.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from cluster.video.cuts import difference, frame_scores
from cluster.video.decode import SeekMissed, decoder_threads, iter_analysis_frames, keyframe_splits

log = logging.getLogger(__name__)

# Shorter stretches would spend more on opening and seeking than they save.
MIN_STRETCH_SECONDS = 8.0


@dataclass
class Stretch:
    scores: np.ndarray
    times: list[float | None] = field(default_factory=list)
    first: np.ndarray | None = None
    last: np.ndarray | None = None


def scene_scores(path: str, times: list[float | None] | None = None, workers: int | None = None) -> np.ndarray:
    """Per-frame difference scores of every decodable frame (see cuts.frame_scores), each
    frame's presentation time appended to `times`, decoded by up to `workers` decoders
    (default: the CPUs this process may use)."""
    splits = keyframe_splits(path, workers or decoder_threads(), MIN_STRETCH_SECONDS)
    bounds = list(zip([None, *splits], [*splits, None]))
    if len(bounds) > 1:
        try:
            with ThreadPoolExecutor(len(bounds), thread_name_prefix="thumbnail-pass") as pool:
                return _join(list(pool.map(lambda span: _stretch(path, span, threads=1), bounds)), times)
        except SeekMissed as exc:
            log.warning("%s; reading the file in one pass", exc)
    return _join([_stretch(path, (None, None), threads=None)], times)


def _stretch(path: str, span: tuple[int | None, int | None], threads: int | None) -> Stretch:
    out = Stretch(np.zeros(0, np.float32))

    def batches():
        for batch in iter_analysis_frames(path, out.times, span=span, threads=threads):
            out.first = batch[0] if out.first is None else out.first
            out.last = batch[-1]
            yield batch

    out.scores = frame_scores(batches())
    return out


def _join(stretches: list[Stretch], times: list[float | None] | None) -> np.ndarray:
    """One score array, each stretch's first frame scored against the last frame before it."""
    parts: list[np.ndarray] = []
    last: np.ndarray | None = None
    for stretch in stretches:
        if stretch.first is None:
            continue
        scores = stretch.scores
        if last is not None:
            scores = scores.copy()
            scores[0] = difference(last, stretch.first)
        parts.append(scores)
        last = stretch.last
        if times is not None:
            times.extend(stretch.times)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
