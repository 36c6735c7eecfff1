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
        for frame, when in zip(frames, pts):
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
