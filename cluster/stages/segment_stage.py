"""Pass-1 stage: one manifest row in, its segments out (Ray Data flat_map).

Probe, optional cut detection in one streaming low-resolution decode, and splitting.
A video that cannot be read yields exactly one error row, so no input disappears.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster import ids
from cluster.storage import local_copy
from cluster.stages.errors import error_fields
from cluster.tokens.geometry import MAX_RATIO
from cluster.video.cuts import CutParams, detect_cuts, frame_scores
from cluster.video.decode import iter_analysis_frames
from cluster.video.probe import VideoProbe, probe_video
from cluster.video.split import Segment, split_timeline
from schemas.tables import TEXT_FIELDS


@dataclass(frozen=True)
class SplitSettings:
    mode: str  # "scenes" or "fixed"
    min_seconds: float
    max_seconds: float
    cut_params: CutParams


class SegmentVideo:
    """Callable for `Dataset.flat_map`."""

    def __init__(self, settings: SplitSettings):
        self.settings = settings

    def __call__(self, row: dict) -> list[dict]:
        uri = row["uri"]
        base = {"uri": uri, "video_id": ids.video_id(uri), **{k: _text(row.get(k)) for k in TEXT_FIELDS}}
        stage = "probe"
        try:
            with local_copy(uri) as path:
                probe = probe_video(path)
                if probe.display_aspect_ratio > MAX_RATIO or 1 / probe.display_aspect_ratio > MAX_RATIO:
                    return [{**base, **_video_fields(probe), "status": "filtered", "reason": "extreme_aspect_ratio"}]
                stage = "split"
                segments = self._segments(path, probe)
        except Exception as exc:
            return [{**base, **error_fields(stage, uri, exc)}]
        return [_segment_row(base, probe, i, seg) for i, seg in enumerate(segments)]

    def _segments(self, path: str, probe: VideoProbe) -> list[Segment]:
        s = self.settings
        cuts = detect_cuts(frame_scores(iter_analysis_frames(path)), s.cut_params) if s.mode == "scenes" else []
        return split_timeline(probe.timestamps, probe.duration, cuts, s.min_seconds, s.max_seconds)


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
