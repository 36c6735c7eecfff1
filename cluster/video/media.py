"""Encode the media a trainer loads: JPEG frames and mp4 clips (PyAV, libx264), as bytes
the output store writes."""

from __future__ import annotations

import io
from collections.abc import Iterable
from fractions import Fraction

import av
import numpy as np
from PIL import Image


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_clip(frames: Iterable[np.ndarray], fps: float, crf: int = 20) -> bytes:
    """Encode frames (all of one size) as an H.264 mp4 at a constant `fps`."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
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
    return buffer.getvalue()


def decode_jpegs(payloads: Iterable[bytes]) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(p)).convert("RGB")) for p in payloads]


def decode_clip(payload: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(payload), "r") as clip:
        return [f.to_ndarray(format="rgb24") for f in clip.decode(video=0)]
