"""Write the media a trainer loads: JPEG frames and mp4 clips (PyAV, libx264)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def write_jpegs(frames: Iterable[np.ndarray], directory: Path, quality: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = directory / f"frame_{i:05d}.jpg"
        Image.fromarray(frame).save(path, quality=quality)
        paths.append(path)
    return paths


def write_clip(frames: Iterable[np.ndarray], path: Path, fps: float, crf: int = 20) -> Path:
    """Encode frames (all of one size) as H.264 at a constant `fps`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial.mp4")
    with av.open(str(tmp), "w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.height, stream.width = frame.shape[:2]
                # 4:2:0 needs even sides; LLaMA-Factory's pre-scaled sizes can be odd
                even = frame.shape[0] % 2 == 0 and frame.shape[1] % 2 == 0
                stream.pix_fmt = "yuv420p" if even else "yuv444p"
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode() if stream else []:
            container.mux(packet)
    tmp.replace(path)
    return path
