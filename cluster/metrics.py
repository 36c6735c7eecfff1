"""vidcurate's own metrics (`vidcurate_*`), exported by Ray to Prometheus next to Ray's.

Each process creates the metric objects on first use. Tag values come from small, fixed
sets: stage names, outcome names, filter reasons and exception class names.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from ray.util import metrics

LATENCY_BOUNDARIES = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]

_SPECS: dict[str, tuple[type, str, tuple[str, ...]]] = {
    "vidcurate_videos_probed": (metrics.Counter, "videos probed, by outcome (ok, filtered, error)", ("outcome",)),
    "vidcurate_segments_created": (metrics.Counter, "segments produced by splitting", ()),
    "vidcurate_segments_kept": (metrics.Counter, "segments that became samples", ()),
    "vidcurate_segments_filtered": (metrics.Counter, "segments filtered, by reason", ("reason",)),
    "vidcurate_errors": (metrics.Counter, "row errors, by stage and error type", ("stage", "error_type")),
    "vidcurate_frames_decoded": (metrics.Counter, "frames decoded, by stage", ("stage",)),
    "vidcurate_decode_seconds": (metrics.Histogram, "seconds per decode call, by stage", ("stage",)),
    "vidcurate_scoring_batch_seconds": (metrics.Histogram, "seconds per CLIP scoring batch", ()),
    "vidcurate_caption_batch_seconds": (metrics.Histogram, "seconds per captioning batch", ("backend",)),
    "vidcurate_tokens_emitted": (metrics.Counter, "placeholder tokens in written samples, by media kind", ("kind",)),
}
_made: dict[str, object] = {}


def _metric(name: str):
    if name not in _made:
        kind, description, tags = _SPECS[name]
        extra = {"boundaries": LATENCY_BOUNDARIES} if kind is metrics.Histogram else {}
        _made[name] = kind(name, description=description, tag_keys=tags, **extra)
    return _made[name]


def count(name: str, value: float = 1, **tags: str) -> None:
    if value:
        _metric(name).inc(value, tags=tags or None)


def observe(name: str, seconds: float, **tags: str) -> None:
    _metric(name).observe(seconds, tags=tags or None)


@contextmanager
def timed(name: str, **tags: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        observe(name, time.perf_counter() - start, **tags)
