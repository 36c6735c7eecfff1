"""A video's shots: boundaries found by the configured detector in one streaming
low-resolution decode, then the segments between them. Runs in the decoder process
(video/guard.py), which imports nothing of Ray or the stages.

The work one input can cause is bounded (WorkLimits): a file claiming more frames, or
splitting into more segments, than the limits allow is refused with the limit to raise; a
timestamp jump cuts the video instead of becoming days of empty segments.

The same pass finds the frames the decoder could not produce (packets that did not decode)
or reported damaged (error concealment). A stretch of them is cut out as a filtered
`corrupt_frames` segment, so the clean footage around it stays usable (a video whose packets
after its first second are corrupt keeps that second); a segment whose scattered damage
still passes the limit is filtered too. Each segment stores its count.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from cluster.video.cuts import Boundary, CutParams, detect_boundaries, model_boundaries, runs
from cluster.video.decode import FrameLog, iter_analysis_frames, rgb_thumbnails
from cluster.video.probe import VideoProbe
from cluster.video.scan import scene_stats
from cluster.video.split import JUMP, Segment, split_timeline

CORRUPT = "corrupt_frames"


class WorkLimitExceeded(ValueError):
    """The input would cause more work than limits: allows."""


@dataclass(frozen=True)
class WorkLimits:
    max_frames: int = 2_000_000
    max_segments: int = 10_000
    max_frame_gap_s: float = 10.0
    max_corrupt_fraction: float = 0.2


@dataclass(frozen=True)
class SplitSettings:
    mode: str  # "scenes" or "fixed"
    min_seconds: float
    max_seconds: float
    blank_seconds: float
    cut_params: CutParams
    limits: WorkLimits = field(default_factory=WorkLimits)
    detector: str = "fast"  # or "transnetv2" (resolved from "auto" on the driver)
    transnet_threshold: float = 0.5
    transnet_device: str = "cpu"


def check_frames(uri: str, probe: VideoProbe, limits: WorkLimits) -> None:
    if probe.num_frames > limits.max_frames:
        raise WorkLimitExceeded(
            f"{uri}: {probe.num_frames} frames, over limits.max_frames_per_input={limits.max_frames}; "
            "raise the limit if the file is that long, or split it"
        )


def segments_of(path: str, probe: VideoProbe, s: SplitSettings) -> list[Segment]:
    """Shot-boundary detection (one streaming low-resolution decode) and splitting, with
    damaged segments filtered; runs in the decoder child."""
    check_frames(path, probe, s.limits)
    boundaries = [Boundary(j, j, JUMP) for j in probe.jumps]
    damaged: np.ndarray | None = None
    if s.mode == "scenes":
        decoded = FrameLog()
        if s.detector == "transnetv2":
            centres, inside = transition_probabilities(path, s.transnet_device, decoded)
            found = model_boundaries(centres, inside, s.transnet_threshold, s.cut_params.min_scene_frames)
        else:
            params = replace(s.cut_params, blank_frames=max(1, round(s.blank_seconds * probe.avg_fps)))
            found = detect_boundaries(scene_stats(path, params, decoded), params)
        boundaries += probe_indices(found, decoded.times, probe)
        damaged = damaged_frames(decoded, probe)
        boundaries += damage_boundaries(damaged, s.cut_params.min_scene_frames)
    segments = split_timeline(probe.timestamps, probe.frame_step, boundaries, s.min_seconds, s.max_seconds)
    if len(segments) > s.limits.max_segments:
        raise WorkLimitExceeded(
            f"{path}: {len(segments)} segments, over limits.max_segments_per_input={s.limits.max_segments}; "
            "raise the limit or split.max_seconds"
        )
    return segments if damaged is None else [_judged(seg, damaged, s.limits) for seg in segments]


def damage_boundaries(damaged: np.ndarray, min_frames: int) -> list[Boundary]:
    """Stretches of damaged frames at least `min_frames` long (clean gaps shorter than that
    joined in), as boundaries whose frames are filtered; briefer damage stays in its shot."""
    stretches: list[list[int]] = []
    for start, end in runs(damaged):
        if stretches and start - stretches[-1][1] < min_frames:
            stretches[-1][1] = end
        else:
            stretches.append([start, end])
    return [Boundary(start, end, CORRUPT) for start, end in stretches if end - start >= min_frames]


def _judged(segment: Segment, damaged: np.ndarray, limits: WorkLimits) -> Segment:
    bad = int(damaged[segment.start_frame : segment.end_frame].sum())
    frames = segment.end_frame - segment.start_frame
    too_many = bad > limits.max_corrupt_fraction * frames
    reason = CORRUPT if too_many and segment.filtered_reason is None else segment.filtered_reason
    return replace(segment, corrupt_frames=bad, filtered_reason=reason)


def damaged_frames(decoded: FrameLog, probe: VideoProbe) -> np.ndarray:
    """Per frame of the probe's timeline: True where the pass decoded no frame for it, or
    the decoder flagged the one it gave. Without timestamps, decoded frames are the first
    ones of the timeline in order."""
    damaged = np.ones(probe.num_frames, bool)
    if any(t is None for t in decoded.times):
        count = min(len(decoded.times), probe.num_frames)
        damaged[:count] = np.asarray(decoded.corrupt[:count], bool)
        return damaged
    damaged[_indices(np.asarray(decoded.times, np.float64), probe)] = np.asarray(decoded.corrupt, bool)
    return damaged


def transition_probabilities(path: str, device: str, decoded: FrameLog) -> tuple[np.ndarray, np.ndarray]:
    """TransNetV2's per-frame transition probabilities (see TransitionStream.finish) over the pass's thumbnails, in one
    sequential decode: the model, not decoding, is the cost, and its windows run in order."""
    # imported here: torch adds ~470 MB and 1.6 s to every decoder process, which the fast
    # detector does not need
    from cluster.models import transnet

    stream = transnet.TransitionStream(transnet.load(device))
    for batch in iter_analysis_frames(path, decoded):
        stream.push(rgb_thumbnails(batch))
    return stream.finish()


def probe_indices(boundaries: list[Boundary], times: list[float | None], probe: VideoProbe) -> list[Boundary]:
    """Boundary frames in the decoded sequence → indices into the probe's frame timeline.
    They differ when damaged packets were skipped; without timestamps they are the same."""
    if not boundaries or any(t is None for t in times):
        return boundaries
    decoded = np.append(_indices(np.asarray(times, np.float64), probe), probe.num_frames)

    def index(i: int) -> int:
        return int(decoded[min(i, len(times))])

    return [Boundary(index(b.start), index(b.end), b.kind) for b in boundaries]


def _indices(times: np.ndarray, probe: VideoProbe) -> np.ndarray:
    """Decoded presentation times → the indices of the nearest frames of the probe's
    timeline (decord's float32 times are off PyAV's by up to a few microseconds per hour)."""
    ts, wanted = probe.timestamps, times - probe.start_time
    right = np.searchsorted(ts, wanted).clip(max=len(ts) - 1)
    left = (right - 1).clip(min=0)
    return np.where(np.abs(ts[left] - wanted) < np.abs(ts[right] - wanted), left, right)
