"""Synthetic videos with known scene cuts, written with PyAV (libx264).

Used by the demo (so it needs no file outside the repository), tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.video.stream import VideoStream


def scene_frames(
    width: int, height: int, fps: int, scene_seconds: Sequence[float], seed: int = 0
) -> Iterator[np.ndarray]:
    """RGB frames: each scene a distinct panning colour field with a moving square, cut hard."""
    rng = np.random.default_rng(seed)
    _, xx = np.mgrid[0:height, 0:width]
    for seconds in scene_seconds:
        base = rng.integers(0, 256, size=3)
        tilt = rng.uniform(-1, 1, size=3)
        ripple = np.sin(xx[..., None] / max(1, width) * 6 * np.pi) * 40
        field = np.clip(base + tilt * (xx[..., None] / width * 120 - 60) + ripple, 0, 255).astype(np.uint8)
        side = max(4, min(width, height) // 5)
        colour = 255 - base
        velocity = rng.uniform(1, 4, size=2) * max(1, width // 320)
        for i in range(round(seconds * fps)):
            frame = np.roll(field, int(i * velocity[1]), axis=1)
            x = int(i * velocity[0]) % max(1, width - side)
            y = int(i * velocity[1]) % max(1, height - side)
            frame[y : y + side, x : x + side] = colour
            yield frame


def write_video(
    path: str | Path,
    frames: Iterator[np.ndarray],
    fps: int | Fraction,
    codec: str = "libx264",
    rotation: int = 0,
    sample_aspect_ratio: Fraction | None = None,
    crf: int = 28,
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = cast(VideoStream, container.add_stream(codec, rate=fps))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": str(crf), "preset": "veryfast"}
                if rotation:
                    stream.set_display_rotation(rotation)
                if sample_aspect_ratio:
                    stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_scene_video(
    path: str | Path,
    scene_seconds: Sequence[float],
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    seed: int = 0,
    **kw,
) -> tuple[Path, list[int]]:
    """Write a video of hard-cut scenes; returns the path and the first frame of each new scene."""
    cuts = list(np.cumsum([round(s * fps) for s in scene_seconds])[:-1].astype(int))
    return write_video(path, scene_frames(width, height, fps, scene_seconds, seed), fps, **kw), cuts
