"""The thumbnail pass over a whole video, decoded on every CPU the task has.

FFmpeg's frame threading scales poorly on this pass: its frames are decoded fast and the
threads mostly wait on each other (two threads ran 1.1x faster for 35% more CPU on 640x360
H.264). So the pass cuts the file at keyframes into one stretch per CPU and decodes each
on its own single-threaded decoder in a thread of this process (PyAV releases the GIL
while decoding). Joined by rescoring each stretch's first frames against the frames before
it, the stretches give exactly the statistics of one sequential pass; only per-frame
statistics are kept, never frames.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from cluster.video.cuts import STAT_FIELDS, CutParams, FrameStats, StatsStream, concat_stats
from cluster.video.decode import FrameLog, SeekMissed, decoder_threads, iter_analysis_frames, keyframe_splits

log = logging.getLogger(__name__)

# Shorter stretches would spend more on opening and seeking than they save.
MIN_STRETCH_SECONDS = 8.0


@dataclass
class Stretch:
    stats: FrameStats
    decoded: FrameLog = field(default_factory=FrameLog)
    head: np.ndarray | None = None  # its first `history` thumbnails, rescored at the join
    tail: np.ndarray | None = None  # its last `history` thumbnails, history for the next stretch


def scene_stats(
    path: str, params: CutParams, decoded: FrameLog | None = None, workers: int | None = None
) -> FrameStats:
    """Per-frame statistics (see cuts.FrameStats) of every decodable frame, each frame's
    time and damage appended to `decoded`, decoded by up to `workers` decoders (default: the
    CPUs this process may use)."""
    splits = keyframe_splits(path, workers or decoder_threads(), MIN_STRETCH_SECONDS)
    bounds = list(zip([None, *splits], [*splits, None], strict=True))
    if len(bounds) > 1:
        try:
            with ThreadPoolExecutor(len(bounds), thread_name_prefix="thumbnail-pass") as pool:
                return _join(
                    list(pool.map(lambda span: _stretch(path, span, params, threads=1), bounds)), params, decoded
                )
        except SeekMissed as exc:
            log.warning("%s; reading the file in one pass", exc)
    return _join([_stretch(path, (None, None), params, threads=None)], params, decoded)


def _stretch(path: str, span: tuple[int | None, int | None], params: CutParams, threads: int | None) -> Stretch:
    stream = StatsStream(params)
    out = Stretch(stream.finish())
    for batch in iter_analysis_frames(path, out.decoded, span=span, threads=threads):
        if out.head is None:
            out.head = batch[: params.history]
        stream.push(batch)
    out.stats, out.tail = stream.finish(), stream.tail
    return out


def _join(stretches: list[Stretch], params: CutParams, decoded: FrameLog | None) -> FrameStats:
    """One FrameStats, each stretch's first frames rescored against the frames before it."""
    parts: list[FrameStats] = []
    history: np.ndarray | None = None
    for stretch in stretches:
        if stretch.head is None or stretch.tail is None:
            continue
        stats = stretch.stats
        if history is not None:
            rescored = StatsStream(params, history)
            rescored.push(stretch.head)
            head, n = rescored.finish(), len(stretch.head)
            stats = FrameStats(*(np.concatenate([getattr(head, f), getattr(stats, f)[n:]]) for f in STAT_FIELDS))
            history = np.concatenate([history, stretch.tail])[-params.history :]
        else:
            history = stretch.tail
        parts.append(stats)
        if decoded is not None:
            decoded.extend(stretch.decoded)
    return concat_stats(parts, params)
