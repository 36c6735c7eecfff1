"""Pass-1 stage: one manifest row in, its segments out (Ray Data flat_map).

Probe, optional cut detection in one streaming low-resolution decode, and splitting.
A video that cannot be read yields exactly one error row, so no input disappears.
"""

from __future__ import annotations

from cluster import ids, metrics
from cluster.sources import read
from cluster.stages.errors import caught, failed_row
from cluster.stages.inputs import InputAccess, opened
from cluster.tokens.geometry import MAX_RATIO
from cluster.video.guard import guarded
from cluster.video.probe import VideoProbe, probe_video
from cluster.video.shots import SplitSettings, check_frames, segments_of
from cluster.video.split import Segment
from schemas.tables import CANDIDATES, TEXT_FIELDS


class SegmentVideo:
    """Callable for `Dataset.flat_map`."""

    def __init__(self, settings: SplitSettings, access: InputAccess, tolerate_bugs: bool = False):
        self.settings = settings
        self.access = access
        self.caught = caught(tolerate_bugs)

    def __call__(self, row: dict) -> list[dict]:
        """The input's rows, each with every column of candidates/ (so all blocks share one schema)."""
        rows = self._rows(row)
        segments = sum(1 for r in rows if r.get("segment_id"))
        metrics.count("vidcurate_videos_probed", outcome=rows[0]["status"] if not segments else "ok")
        metrics.count("vidcurate_segments_created", segments)
        return [{name: {**r, "video_rows": len(rows)}.get(name) for name in CANDIDATES.names} for r in rows]

    def _rows(self, row: dict) -> list[dict]:
        uri = row["uri"]
        base = input_fields(row)
        stage, guard, limits = "probe", self.access.guard, self.settings.limits
        try:
            with opened(uri, self.access) as source:
                base["source_fingerprint"] = source.identity
                probe = guarded(guard, uri, 0.0, read, source, probe_video, limits.max_frame_gap_s)
                if probe.display_aspect_ratio > MAX_RATIO or 1 / probe.display_aspect_ratio > MAX_RATIO:
                    return [{**base, **_video_fields(probe), "status": "filtered", "reason": "extreme_aspect_ratio"}]
                check_frames(uri, probe, limits)
                stage = "split"
                with metrics.timed("vidcurate_decode_seconds", stage="split"):
                    segments = guarded(guard, uri, probe.duration, read, source, segments_of, probe, self.settings)
                if self.settings.mode == "scenes":
                    metrics.count("vidcurate_frames_decoded", probe.num_frames, stage="split")
        except self.caught as exc:
            return [{**base, **failed_row(stage, uri, exc)}]
        return [_segment_row(base, probe, i, seg) for i, seg in enumerate(segments)]


def input_fields(entry: dict) -> dict:
    """The columns every candidate row of a manifest entry carries, whatever its outcome."""
    uri = entry["uri"]
    return {
        "uri": uri,
        "input_index": entry["input_index"],
        "video_id": ids.video_id(uri),
        **{k: _text(entry.get(k)) for k in TEXT_FIELDS},
        "text_truncated": entry.get("text_truncated") or [],
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
        "corrupt_frames": seg.corrupt_frames,
        "frame_times": probe.timestamps[seg.start_frame : seg.end_frame].tolist(),
    }
