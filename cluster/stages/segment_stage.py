"""Pass-1 stage: one manifest row in, its segments out (Ray Data flat_map).

Probe, optional cut detection in one streaming low-resolution decode, and splitting.
A video that cannot be read yields exactly one error row, so no input disappears.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cluster import ids, metrics
from cluster.stages.errors import error_fields
from cluster.storage import fingerprint, local_copy
from cluster.tokens.geometry import MAX_RATIO
from cluster.video.cuts import Boundary, CutParams, detect_boundaries, model_boundaries
from cluster.video.decode import iter_analysis_frames, rgb_thumbnails
from cluster.video.guard import GuardSettings, guarded
from cluster.video.probe import VideoProbe, probe_video
from cluster.video.scan import scene_stats
from cluster.video.split import Segment, split_timeline
from schemas.tables import TEXT_FIELDS


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


class SegmentVideo:
    """Callable for `Dataset.flat_map`."""

    def __init__(self, settings: SplitSettings):
        self.settings = settings

    def __call__(self, row: dict) -> list[dict]:
        rows = self._rows(row)
        segments = sum(1 for r in rows if r.get("segment_id"))
        metrics.count("vidcurate_videos_probed", outcome=rows[0]["status"] if not segments else "ok")
        metrics.count("vidcurate_segments_created", segments)
        return [{**r, "video_rows": len(rows)} for r in rows]

    def _rows(self, row: dict) -> list[dict]:
        uri = row["uri"]
        base = input_fields(row)
        stage, guard = "probe", self.settings.guard
        try:
            base["source_fingerprint"] = fingerprint(uri)
            with local_copy(uri) as path:
                probe = guarded(guard, uri, 0.0, probe_video, path)
                if probe.display_aspect_ratio > MAX_RATIO or 1 / probe.display_aspect_ratio > MAX_RATIO:
                    return [{**base, **_video_fields(probe), "status": "filtered", "reason": "extreme_aspect_ratio"}]
                stage = "split"
                with metrics.timed("vidcurate_decode_seconds", stage="split"):
                    segments = guarded(guard, uri, probe.duration, segments_of, path, probe, self.settings)
                if self.settings.mode == "scenes":
                    metrics.count("vidcurate_frames_decoded", probe.num_frames, stage="split")
        except Exception as exc:
            return [{**base, **error_fields(stage, uri, exc)}]
        return [_segment_row(base, probe, i, seg) for i, seg in enumerate(segments)]


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


def input_fields(entry: dict) -> dict:
    """The columns every candidate row of a manifest entry carries, whatever its outcome."""
    uri = entry["uri"]
    return {
        "uri": uri,
        "input_index": entry["input_index"],
        "video_id": ids.video_id(uri),
        **{k: _text(entry.get(k)) for k in TEXT_FIELDS},
    }


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _video_fields(probe: VideoProbe) -> dict:
    return {"probe": probe.metadata(), "display_aspect_ratio": probe.display_aspect_ratio}


def _segment_row(base: dict, probe: VideoProbe, index: int, seg: Segment) -> dict:
    return {
        **base,
        **_video_fields(probe),
        "segment_id": ids.segment_id(base["video_id"], seg.start_frame, seg.end_frame),
        "status": "filtered" if seg.filtered_reason else "ok",
        "reason": seg.filtered_reason,
        "segment_index": index,
        "scene_index": seg.scene_index,
        "start_frame": seg.start_frame,
        "end_frame": seg.end_frame,
        "start_s": round(seg.start_s, 6),
        "end_s": round(seg.end_s, 6),
        "duration_s": round(seg.duration_s, 6),
    }
