"""Qwen-VL vision geometry: resizing to the patch grid and placeholder counts.

Follows docs/token-spec.md, which was derived from qwen-vl-utils 0.0.14 and
transformers' Qwen2-VL processors; tests check these functions against both libraries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_RATIO = 200
SPATIAL_MERGE = 2
TEMPORAL_PATCH = 2

PATCH_SIZE = {"qwen2-vl": 14, "qwen2.5-vl": 14, "qwen3-vl": 16}


class GeometryError(ValueError):
    """An input the model family cannot represent (e.g. aspect ratio over 200:1)."""


def resize_factor(family: str) -> int:
    return PATCH_SIZE[family] * SPATIAL_MERGE


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Snap (height, width) to multiples of `factor` with the pixel count in [min, max]."""
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise GeometryError(
            f"aspect ratio {max(height, width) / min(height, width):.1f}:1 of {width}x{height} "
            f"exceeds {MAX_RATIO}:1, which Qwen-VL processors reject"
        )
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = math.floor(height / beta / factor) * factor
        w = math.floor(width / beta / factor) * factor
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def smart_resize_clip(
    num_frames: int, height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen3-VL's video resize: the bounds hold for frames × height × width of the whole clip
    (transformers' `video_processing_qwen3_vl.smart_resize`, its rounding kept)."""
    if num_frames < TEMPORAL_PATCH:
        raise GeometryError(f"a Qwen3-VL video needs at least {TEMPORAL_PATCH} frames, got {num_frames}")
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise GeometryError(
            f"aspect ratio {max(height, width) / min(height, width):.1f}:1 of {width}x{height} "
            f"exceeds {MAX_RATIO}:1, which Qwen-VL processors reject"
        )
    h = round(height / factor) * factor
    w = round(width / factor) * factor
    t = round(num_frames / TEMPORAL_PATCH) * TEMPORAL_PATCH
    if t * h * w > max_pixels:
        beta = math.sqrt(num_frames * height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif t * h * w < min_pixels:
        beta = math.sqrt(min_pixels / (num_frames * height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


@dataclass(frozen=True)
class VisualCount:
    """Placeholder accounting for one image or video as the processor sees it."""

    grid: tuple[int, int, int]  # (t, h, w) in patches, as image_grid_thw / video_grid_thw
    pad_tokens: int  # number of <|image_pad|> or <|video_pad|> tokens
    sequence_tokens: int  # pads plus the vision start/end tokens around each run


def image_count(resized_h: int, resized_w: int, family: str) -> VisualCount:
    patch = PATCH_SIZE[family]
    grid = (1, resized_h // patch, resized_w // patch)
    pads = grid[1] * grid[2] // SPATIAL_MERGE**2
    return VisualCount(grid=grid, pad_tokens=pads, sequence_tokens=pads + 2)


def video_count(num_frames: int, resized_h: int, resized_w: int, family: str, outer_pair: bool = True) -> VisualCount:
    """Count for `num_frames` frames; an odd count is padded by repeating the last frame.

    Qwen3-VL's processor keeps the chat template's start/end pair around the video (unless
    `outer_pair` is off, as in LLaMA-Factory) and wraps every temporal step in one more (its
    "<t seconds>" text is counted apart, in timestamps.py).
    """
    patch = PATCH_SIZE[family]
    steps = math.ceil(num_frames / TEMPORAL_PATCH)
    grid = (steps, resized_h // patch, resized_w // patch)
    per_step = grid[1] * grid[2] // SPATIAL_MERGE**2
    pads = steps * per_step
    wrappers = 2 * outer_pair + 2 * steps if family == "qwen3-vl" else 2
    return VisualCount(grid=grid, pad_tokens=pads, sequence_tokens=pads + wrappers)
