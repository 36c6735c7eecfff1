"""Pass-3 stage: a kept segment in, its media written and counted (or an error row) out.

Samples the frames the token profile prescribes, decodes exactly those, writes them at
the size the trainer's processor will keep, and stores the placeholder counts. The
conversation is composed after captioning (compose_stage).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cluster import ids, metrics
from cluster.samples import manifest_caption
from cluster.sources import Source, read
from cluster.stages.errors import caught, failed_row
from cluster.stages.inputs import InputAccess, opened
from cluster.store import Store
from cluster.tokens.budget import OverBudget, fit_video
from cluster.tokens.geometry import VisualCount
from cluster.tokens.profiles import TokenProfile
from cluster.tokens.sampling import VideoPlan, plan_image
from cluster.video.decode import CorruptFrames, read_frames_at
from cluster.video.guard import guarded
from cluster.video.media import encode_clip, encode_jpeg
from cluster.video.shots import CORRUPT
from schemas.layout import RUN
from schemas.tables import PASS3_WORK, PIPELINE_VERSION, table_from_rows

# Pass-1 scores and pass-2 decisions that travel into every sample.
CARRIED = ("aesthetic", "clip_similarity", "redundancy", "cluster_id", "duplicate_group", "embedding")


@dataclass(frozen=True)
class SampleSettings:
    store: Store
    carry_media: bool  # hand the written bytes to the captioner in the block (it reads no file back)
    profile: TokenProfile
    max_total_tokens: int | None
    media: str  # frames | clip | both
    jpeg_quality: int
    write_still: bool  # the best keyframe as an image (include_image or image_samples)
    config_hash: str
    access: InputAccess
    max_corrupt: float  # share of the sampled frames that may be missing or damaged in the file


class MaterializeSegment:
    """Callable for `map_batches(..., batch_format="pyarrow")`. Frames are read at the times
    pass 1 recorded for the segment (`frame_times`): the video is not indexed again."""

    def __init__(self, settings: SampleSettings, tolerate_bugs: bool = False):
        self.settings = settings
        self.caught = caught(tolerate_bugs)

    def __call__(self, batch: pa.Table) -> pa.Table:
        return table_from_rows([self.materialize(row) for row in batch.to_pylist()], PASS3_WORK)

    def materialize(self, row: dict) -> dict:
        stage = "decode"
        try:
            with opened(row["uri"], self.settings.access, row["source_fingerprint"]) as source:
                plan, profile, note = self._plan(row)
                stage = "write_media"
                media = self._write(row, source, plan, profile)
        except OverBudget as exc:
            return {**_identity(row), "status": "filtered", "reason": "over_token_budget", "error_message": str(exc)}
        except CorruptFrames as exc:
            return {**_identity(row), "status": "filtered", "reason": CORRUPT, "error_message": str(exc)}
        except self.caught as exc:
            return {**_identity(row), **failed_row(stage, row["uri"], exc)}
        return {**_identity(row), "status": "ok", **self._sample(row, plan, profile, note, media)}

    def _plan(self, row: dict) -> tuple[VideoPlan, TokenProfile, str | None]:
        s, probe = self.settings, row["probe"]
        frames = row["end_frame"] - row["start_frame"]
        image_tokens = self._image_plan(row).count.sequence_tokens if s.write_still else 0
        return fit_video(
            frames,
            _clip_fps(row),
            probe["display_height"],
            probe["display_width"],
            s.profile,
            s.max_total_tokens,
            image_tokens,
            row["start_frame"],
        )

    def _image_plan(self, row: dict):
        probe = row["probe"]
        return plan_image(probe["display_height"], probe["display_width"], self.settings.profile)

    def _write(self, row: dict, source: Source, plan: VideoPlan, profile: TokenProfile) -> dict:
        s, probe = self.settings, row["probe"]
        sample = ids.sample_id(row["segment_id"], "video", profile.name)
        rel = posixpath.join(RUN.media, sample[1:3], sample)
        sampled = np.asarray(row["frame_times"])[list(plan.indices)]
        with metrics.timed("vidcurate_decode_seconds", stage="materialize"):
            frames = guarded(
                s.access.guard,
                row["uri"],
                row["duration_s"],
                read,
                source,
                read_frames_at,
                sampled,
                probe["start_time"],
                probe["rotation"],
                plan.stored_size,
                s.max_corrupt,
            )
        metrics.count("vidcurate_frames_decoded", len(frames), stage="materialize")
        out: dict = {"sample_id": sample, "frames": [], "clip": None, "image": None}
        payloads: list[bytes] = []
        if s.media in ("frames", "both"):
            payloads = [encode_jpeg(frame, s.jpeg_quality) for frame in frames]
            out["frames"] = [self._put(posixpath.join(rel, f"frame_{i:05d}.jpg"), p) for i, p in enumerate(payloads)]
        if s.media in ("clip", "both"):
            clip = encode_clip(frames, plan.media_fps)
            out["clip"] = self._put(f"{rel}.mp4", clip)
            payloads = payloads or [clip]
        out["media_bytes"] = payloads if s.carry_media else None
        if s.write_still:
            image_plan = self._image_plan(row)
            when = [_best_keyframe(row, sampled)]
            (still,) = guarded(
                s.access.guard,
                row["uri"],
                0.0,
                read,
                source,
                read_frames_at,
                when,
                probe["start_time"],
                probe["rotation"],
                image_plan.stored_size,
            )
            out["image"] = self._put(
                posixpath.join(rel, "image", "frame_00000.jpg"), encode_jpeg(still, s.jpeg_quality)
            )
        return out

    def _put(self, rel: str, payload: bytes) -> str:
        self.settings.store.write_bytes(rel, payload)
        return rel

    def _sample(self, row: dict, plan: VideoPlan, profile: TokenProfile, note: str | None, media: dict) -> dict:
        metadata = {
            "fps": plan.metadata_fps,
            "frames_indices": list(plan.metadata_indices),
            "total_num_frames": row["probe"]["num_frames"],
        }
        items = [
            {
                **_media_item("video", "<video>", plan.count, plan.stored_size, plan.resized_size),
                "frames_used": len(plan.indices),
                "frame_indices": list(plan.indices),
                "sampled_fps": plan.sampled_fps,
                "video_metadata": metadata,
                "timestamps": list(plan.timestamps),
                "timestamp_tokens": plan.timestamp_tokens,
            }
        ]
        if media["image"]:
            image_plan = self._image_plan(row)
            image = _media_item("image", "<image>", image_plan.count, image_plan.stored_size, image_plan.resized_size)
            items.insert(0, {**image, "frames_used": 1, "frame_indices": [], "timestamp_tokens": 0})
        text = manifest_caption(row)
        return {
            "id": media["sample_id"],
            "sample_kind": "video",
            "videos": [media["frames"]] if media["frames"] else [],
            "video_clips": [media["clip"]] if media["clip"] else [],
            "images": [media["image"]] if media["image"] else [],
            "media_bytes": media["media_bytes"],
            "media": items,
            "token_profile": profile.name,
            "token_profile_params": json.dumps(profile.resolved(), sort_keys=True),
            "budget_adjustment": note,
            "manifest_text": text,
            "caption_status": "manifest_text" if text else "not_captioned",
            "source_uri": row["uri"],
            "segment_start_s": row["start_s"],
            "segment_end_s": row["end_s"],
            "scene_index": row["scene_index"],
            "probe": row["probe"],
            "display_aspect_ratio": row["display_aspect_ratio"],
            **{k: row.get(k) for k in CARRIED},
            "pipeline_version": PIPELINE_VERSION,
            "config_hash": self.settings.config_hash,
        }


def _clip_fps(row: dict) -> float:
    """The segment's frame rate: what its frame indices count in, for sampling and timestamps."""
    return (row["end_frame"] - row["start_frame"]) / row["duration_s"]


def _identity(row: dict) -> dict:
    return {"input": row["uri"], "video_id": row["video_id"], "segment_id": row["segment_id"]}


def _best_keyframe(row: dict, sampled_times: np.ndarray) -> float:
    """The keyframe with the highest aesthetic score; the middle sampled frame when the
    segment has no per-keyframe scores."""
    times, scores = row.get("keyframe_times") or [], row.get("aesthetic_frames") or []
    if times and len(scores) == len(times):
        return float(times[int(np.argmax(scores))])
    return float(sampled_times[len(sampled_times) // 2])


def _media_item(
    kind: str, placeholder: str, count: VisualCount, stored: tuple[int, int], resized: tuple[int, int]
) -> dict:
    return {
        "kind": kind,
        "placeholder": placeholder,
        "pad_tokens": count.pad_tokens,
        "sequence_tokens": count.sequence_tokens,
        "grid_thw": list(count.grid),
        "stored_height": stored[0],
        "stored_width": stored[1],
        "resized_height": resized[0],
        "resized_width": resized[1],
    }
