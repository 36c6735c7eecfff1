"""A video's shots: boundaries found by the configured detector in one streaming
low-resolution decode, then the segments between them. Runs in the decoder process
(video/guard.py), which imports nothing of Ray or the stages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cluster.video.cuts import Boundary, CutParams, detect_boundaries, model_boundaries
from cluster.video.decode import iter_analysis_frames, rgb_thumbnails
from cluster.video.guard import GuardSettings
from cluster.video.probe import VideoProbe
from cluster.video.scan import scene_stats
from cluster.video.split import Segment, split_timeline


@dataclass(frozen=True)
class SplitSettings:
    mode: str  # "scenes" or "fixed"
    min_seconds: float
    max_seconds: float
    blank_seconds: float
    cut_params: CutParams
    guard: GuardSettings
    detector: str = "fast"  # or "transnetv2" (resolved from "auto" on the driver)
    transnet_threshold: float = 0.5
    transnet_device: str = "cpu"


def segments_of(path: str, probe: VideoProbe, s: SplitSettings) -> list[Segment]:
    """Shot-boundary detection (one streaming low-resolution decode) and splitting; runs in
    the decoder child."""
    boundaries: list[Boundary] = []
    if s.mode == "scenes":
        times: list[float | None] = []
        if s.detector == "transnetv2":
            centres, inside = transition_probabilities(path, s.transnet_device, times)
            found = model_boundaries(centres, inside, s.transnet_threshold, s.cut_params.min_scene_frames)
        else:
            params = replace(s.cut_params, blank_frames=max(1, round(s.blank_seconds * probe.avg_fps)))
            found = detect_boundaries(scene_stats(path, params, times), params)
        boundaries = probe_indices(found, times, probe)
    return split_timeline(probe.timestamps, probe.duration, boundaries, s.min_seconds, s.max_seconds)


def transition_probabilities(path: str, device: str, times: list[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """TransNetV2's per-frame transition probabilities (see TransitionStream.finish) over the pass's thumbnails, in one
    sequential decode: the model, not decoding, is the cost, and its windows run in order."""
    # imported here: torch adds ~470 MB and 1.6 s to every decoder process, which the fast
    # detector does not need
    from cluster.models import transnet

    stream = transnet.TransitionStream(transnet.load(device))
    for batch in iter_analysis_frames(path, times):
        stream.push(rgb_thumbnails(batch))
    return stream.finish()


def probe_indices(boundaries: list[Boundary], times: list[float | None], probe: VideoProbe) -> list[Boundary]:
    """Boundary frames in the decoded sequence → indices into the probe's frame timeline.
    They differ when damaged packets were skipped; without timestamps they are the same."""
    if not boundaries or any(t is None for t in times):
        return boundaries
    decoded = np.asarray([*times, probe.start_time + probe.duration], np.float64)

    def index(i: int) -> int:
        return int(np.searchsorted(probe.timestamps, decoded[min(i, len(times))] - probe.start_time - 1e-6))

    return [Boundary(index(b.start), index(b.end), b.kind) for b in boundaries]
