"""Awkward video files for tests, written with PyAV."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_with_pts(path: Path, frames: Iterable[np.ndarray], pts: Iterable[int], time_base: Fraction) -> Path:
    """H.264 in MP4 with the given presentation timestamps (variable rates, start offsets)."""
    with av.open(str(path), "w") as container:
        stream = None
        for frame, when in zip(frames, pts, strict=False):  # pts may run past the frames
            if stream is None:
                stream = container.add_stream("libx264", rate=25)  # nominal; the pts decide
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.codec_context.time_base = time_base
            f = av.VideoFrame.from_ndarray(frame, format="rgb24")
            f.pts, f.time_base = when, time_base
            for packet in stream.encode(f):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def remux_elementary(source: Path, path: Path) -> Path:
    """The raw H.264 elementary stream of `source`: no container duration, no timestamps."""
    with av.open(str(source)) as src, av.open(str(path), "w", format="h264") as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = out
                dst.mux(packet)
    return path


def clip(path: Path, start: float, frames: int, size: tuple[int, int] = (180, 320)) -> list[np.ndarray]:
    """`frames` RGB frames of a real video from `start` seconds, scaled to `size` (h, w)."""
    out: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(start / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            if frame.time >= start:
                out.append(frame.reformat(width=size[1], height=size[0], format="rgb24").to_ndarray())
            if len(out) == frames:
                break
    return out


def fade_through(
    before: list[np.ndarray], after: list[np.ndarray], ramp: int, hold: int, level: int = 0
) -> list[np.ndarray]:
    """`before` fading over its last `ramp` frames to a flat `level` (0 black, 255 white),
    `hold` flat frames, then `after` fading in over its first `ramp` frames."""
    flat = np.full_like(before[0], level)

    def mix(frame: np.ndarray, weight: float) -> np.ndarray:
        return np.uint8(np.round(frame * weight + flat.astype(float) * (1 - weight)))

    out_ramp = [mix(f, 1 - (i + 1) / ramp) for i, f in enumerate(before[-ramp:])]
    in_ramp = [mix(f, (i + 1) / ramp) for i, f in enumerate(after[:ramp])]
    return before[:-ramp] + out_ramp + [flat] * hold + in_ramp + after[ramp:]


def flash(frames: list[np.ndarray], at: int, length: int, strength: float = 0.9) -> list[np.ndarray]:
    """A white flash (camera flash, lightning) starting at frame `at`, decaying over `length` frames."""
    out = list(frames)
    for k in range(length):
        gain = strength * (1 - k / length)
        out[at + k] = np.uint8(np.round(out[at + k] + gain * (255 - out[at + k].astype(float))))
    return out


def dissolve(before: list[np.ndarray], after: list[np.ndarray], frames: int) -> list[np.ndarray]:
    """A cross-dissolve of `frames` frames: `before`'s last frames blended into `after`'s first."""
    weights = [(i + 1) / (frames + 1) for i in range(frames)]
    blended = [
        np.uint8(np.round(a * (1 - w) + b * w))
        for a, b, w in zip(before[-frames:], after[:frames], weights, strict=True)
    ]
    return before[:-frames] + blended + after[frames:]
