"""Frame sampling and resizing as each consumer does it, and the resulting counts.

`plan_video` answers: which frames of a clip does the trainer see, at what size, and how
many placeholder tokens do they cost. `plan_image` answers the same for one image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cluster.tokens.geometry import (
    TEMPORAL_PATCH,
    VisualCount,
    image_count,
    smart_resize,
    smart_resize_clip,
    video_count,
)
from cluster.tokens.profiles import TokenProfile
from cluster.tokens.timestamps import step_timestamps, timestamp_tokens


class SamplingError(ValueError):
    """The clip cannot be sampled under the profile (too few frames, bad geometry)."""


@dataclass(frozen=True)
class VideoPlan:
    indices: tuple[int, ...]  # frame indices within the clip, in order
    stored_size: tuple[int, int]  # (h, w) the media is written at
    resized_size: tuple[int, int]  # (h, w) the processor feeds the vision tower
    sampled_fps: float
    count: VisualCount
    # the frame indices and rate the processor is handed as video metadata: source or clip
    # frames at the clip's fps, or, for a consumer that times frames by their position in
    # what it reads (CLIP_TIMED), 0..n-1 at its fps, which the written clip then plays at
    metadata_indices: tuple[int, ...]
    metadata_fps: float
    media_fps: float  # the rate the clip is written at
    # Qwen3-VL: the time written before each temporal step, from the metadata
    timestamps: tuple[float, ...] = ()

    @property
    def timestamp_tokens(self) -> int:
        return timestamp_tokens(self.timestamps)

    @property
    def tokens(self) -> int:
        """Everything the video costs in the sequence: pads, vision markers, timestamps."""
        return self.count.sequence_tokens + self.timestamp_tokens


@dataclass(frozen=True)
class ImagePlan:
    stored_size: tuple[int, int]
    resized_size: tuple[int, int]
    count: VisualCount


def plan_video(
    total_frames: int,
    video_fps: float,
    height: int,
    width: int,
    profile: TokenProfile,
    first_frame: int = 0,
    clock_fps: float | None = None,
) -> VideoPlan:
    """Plan a clip of `total_frames` frames at `video_fps`, each `height`×`width` on screen,
    that starts at frame `first_frame` of its source. `clock_fps` is the trainer-wide fps a
    CLIP_TIMED consumer times frame lists with (default: the profile's fps)."""
    if total_frames < 1 or video_fps <= 0:
        raise SamplingError(f"clip has {total_frames} frames at {video_fps} fps; nothing to sample")
    p = profile.resolved()
    indices = [int(i) for i in _indices(total_frames, video_fps, profile, p)]
    stored, resized = _frame_size(height, width, len(indices), profile, p)
    count = video_count(len(indices), resized[0], resized[1], profile.family, profile.outer_vision_pair)
    sampled_fps = len(indices) / total_frames * video_fps
    if profile.clip_timed:
        timed, fps = tuple(range(len(indices))), clock_fps or p["fps"]
        media_fps = fps
    else:
        origin = 0 if p.get("timestamp_origin") == "clip" else first_frame
        timed, fps = tuple(origin + i for i in indices), video_fps
        media_fps = sampled_fps
    times = step_timestamps(timed, fps) if profile.timestamps else ()
    return VideoPlan(tuple(indices), stored, resized, sampled_fps, count, timed, fps, media_fps, times)


def plan_image(height: int, width: int, profile: TokenProfile) -> ImagePlan:
    p = profile.resolved()
    f = profile.factor
    if profile.consumer == "llamafactory":
        stored = _prescale(height, width, p["image_min_pixels"], p["image_max_pixels"])
        resized = smart_resize(*stored, f, p["processor_min_pixels"], p["processor_max_pixels"])
    else:
        resized = smart_resize(height, width, f, p["image_min_pixels"], p["image_max_pixels"])
        stored = resized
    return ImagePlan(stored, resized, image_count(*resized, profile.family))


def _indices(total: int, video_fps: float, profile: TokenProfile, p: dict) -> np.ndarray:
    duration, consumer = total / video_fps, profile.consumer
    if consumer == "hf-processor" and profile.family == "qwen3-vl":
        return _qwen3_indices(total, video_fps, p)
    if consumer == "llamafactory":
        n = min(total, p["max_frames"], max(1, math.floor(duration * p["fps"])))
        return np.linspace(0, total - 1, n).astype(np.int64)
    if consumer == "qwen-vl-finetune":
        n = min(max(round(duration * p["fps"]), p["min_frames"]), p["max_frames"], total)
        return np.unique(np.linspace(0, total - 1, n).astype(np.int64))
    n = _qwen_frame_count(total, video_fps, p)
    if consumer == "hf-processor":
        return np.floor(np.arange(0, total, total / n, dtype=np.float64)[:n]).astype(np.int64)
    return np.round(np.linspace(0, total - 1, n)).astype(np.int64)


def _qwen3_indices(total: int, video_fps: float, p: dict) -> np.ndarray:
    """Qwen3VLVideoProcessor.sample_frames: an int() of the fps count, no rounding to even."""
    if "nframes" in p:
        n = p["nframes"]
    else:
        n = min(max(int(total / video_fps * p["fps"]), p["min_frames"]), p["max_frames"], total)
    if not TEMPORAL_PATCH <= n <= total:
        raise SamplingError(
            f"clip of {total} frames yields {n} sampled frames; Qwen3-VL needs between "
            f"{TEMPORAL_PATCH} and the clip's frame count"
        )
    return np.linspace(0, total - 1, n).round().astype(np.int64)


def _qwen_frame_count(total: int, video_fps: float, p: dict) -> int:
    if "nframes" in p:
        n = round(p["nframes"] / TEMPORAL_PATCH) * TEMPORAL_PATCH
    else:
        lo = math.ceil(p["min_frames"] / TEMPORAL_PATCH) * TEMPORAL_PATCH
        hi = math.floor(min(p["max_frames"], total) / TEMPORAL_PATCH) * TEMPORAL_PATCH
        n = min(max(total / video_fps * p["fps"], lo), hi, total)
        n = math.floor(n / TEMPORAL_PATCH) * TEMPORAL_PATCH
    if not TEMPORAL_PATCH <= n <= total:
        raise SamplingError(
            f"clip of {total} frames yields {n} sampled frames; Qwen-VL needs between "
            f"{TEMPORAL_PATCH} and the clip's frame count"
        )
    return n


def _frame_size(h: int, w: int, n: int, profile: TokenProfile, p: dict) -> tuple[tuple[int, int], tuple[int, int]]:
    f = profile.factor
    if profile.consumer == "llamafactory":
        stored = _prescale(h, w, p["video_min_pixels"], p["video_max_pixels"])
        bounds = (p["processor_video_min_pixels"], p["processor_video_max_pixels"])
        if profile.family == "qwen3-vl":  # it pads an odd frame list before the processor sees it
            return stored, smart_resize_clip(n + n % TEMPORAL_PATCH, *stored, f, *bounds)
        return stored, smart_resize(*stored, f, *bounds)
    if profile.consumer == "qwen-vl-finetune":
        resized = smart_resize(h, w, f, p["video_min_pixels"], p["video_max_pixels"])
        return resized, resized
    min_px = p["video_min_pixels"]
    if profile.consumer == "hf-processor" and profile.family == "qwen3-vl":
        max_px = p["video_max_pixels"]
        if p["cap_pixels_per_frame"]:
            per_frame = max(min(p["max_video_tokens"] * f * f, max_px // n), int(min_px * 1.05))
            max_px = per_frame * n
        stored = smart_resize_clip(n, h, w, f, min_px, max_px)
        # the processor resizes the stored frames once more: count what it keeps
        return stored, smart_resize_clip(n, *stored, f, min_px, max_px)
    if profile.consumer == "hf-processor":
        max_px = p["video_max_pixels"]
        if p["cap_pixels_per_frame"]:
            total = int(p["max_video_tokens"] * f * f * 0.9)
            max_px = max(min(max_px, total * TEMPORAL_PATCH // n), int(min_px * 1.05))
        resized = smart_resize(h, w, f, min_px, max_px)
        return resized, resized
    max_px = max(min(p["video_max_pixels"], p["video_total_pixels"] / n * TEMPORAL_PATCH), int(min_px * 1.05))
    resized = _frame_list_size(smart_resize(h, w, f, min_px, max_px), 2 * f, min_px, max_px)
    return resized, resized


def _frame_list_size(size: tuple[int, int], factor: int, min_px: int, max_px: float) -> tuple[int, int]:
    """qwen-vl-utils resizes each frame of a frame list with twice the resize factor (its
    wheel passes the factor where the patch size belongs) before the video resize. A size
    that is a multiple of both, inside the video bounds, is kept by both and by an mp4 of it."""
    h, w = size
    sides = [(a, b) for a in _snapped(h, factor) for b in _snapped(w, factor) if min_px <= a * b <= max_px]
    if not sides:
        raise SamplingError(
            f"no frame size near {w}x{h} is a multiple of {factor} within {min_px}..{int(max_px)} pixels, "
            "which qwen-vl-utils needs to keep a frame list as written; raise tokens.video_max_pixels"
        )
    return min(sides, key=lambda s: (abs(s[0] * s[1] - h * w), s[0] * s[1]))


def _snapped(side: int, factor: int) -> tuple[int, int]:
    low = max(factor, side // factor * factor)
    return low, low if low >= side else low + factor


def _prescale(h: int, w: int, min_px: int, max_px: int) -> tuple[int, int]:
    """LLaMA-Factory's image regularisation: pixel range (int truncation), then it widens
    sides under 28 px and squeezes ratios over 200:1 to 180:1 instead of failing."""
    if h * w > max_px:
        s = math.sqrt(max_px / (h * w))
        h, w = int(h * s), int(w * s)
    if h * w < min_px:
        s = math.sqrt(min_px / (h * w))
        h, w = int(h * s), int(w * s)
    if min(h, w) < 28:
        h, w = max(h, 28), max(w, 28)
    if w / h > 200:
        w = h * 180
    if h / w > 200:
        h = w * 180
    return h, w
