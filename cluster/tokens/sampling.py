"""Frame sampling and resizing as each consumer does it, and the resulting counts.

`plan_video` answers: which frames of a clip does the trainer see, at what size, and how
many placeholder tokens do they cost. `plan_image` answers the same for one image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cluster.tokens.geometry import TEMPORAL_PATCH, VisualCount, image_count, smart_resize, video_count
from cluster.tokens.profiles import TokenProfile


class SamplingError(ValueError):
    """The clip cannot be sampled under the profile (too few frames, bad geometry)."""


@dataclass(frozen=True)
class VideoPlan:
    indices: tuple[int, ...]  # frame indices within the clip, in order
    stored_size: tuple[int, int]  # (h, w) the media is written at
    resized_size: tuple[int, int]  # (h, w) the processor feeds the vision tower
    sampled_fps: float
    count: VisualCount


@dataclass(frozen=True)
class ImagePlan:
    stored_size: tuple[int, int]
    resized_size: tuple[int, int]
    count: VisualCount


def plan_video(total_frames: int, video_fps: float, height: int, width: int, profile: TokenProfile) -> VideoPlan:
    """Plan a clip of `total_frames` frames at `video_fps`, each `height`×`width` on screen."""
    if total_frames < 1 or video_fps <= 0:
        raise SamplingError(f"clip has {total_frames} frames at {video_fps} fps; nothing to sample")
    p = profile.resolved()
    indices = _indices(total_frames, video_fps, profile.consumer, p)
    stored, resized = _frame_size(height, width, len(indices), profile, p)
    count = video_count(len(indices), resized[0], resized[1], profile.family)
    sampled_fps = len(indices) / total_frames * video_fps
    return VideoPlan(tuple(int(i) for i in indices), stored, resized, sampled_fps, count)


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


def _indices(total: int, video_fps: float, consumer: str, p: dict) -> np.ndarray:
    duration = total / video_fps
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
        return stored, smart_resize(*stored, f, p["processor_min_pixels"], p["processor_max_pixels"])
    if profile.consumer == "qwen-vl-finetune":
        resized = smart_resize(h, w, f, p["video_min_pixels"], p["video_max_pixels"])
        return resized, resized
    min_px = p["video_min_pixels"]
    per_frame_share = p["video_total_pixels"] / n * TEMPORAL_PATCH
    max_px = max(min(p["video_max_pixels"], per_frame_share), int(min_px * 1.05))
    resized = smart_resize(h, w, f, min_px, max_px)
    return resized, resized


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
