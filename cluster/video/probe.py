"""Probe a video file: timing, geometry as shown on screen, codec, audio.

Frame count and per-frame timestamps come from decord's index (no decoding); when decord
cannot open the file (e.g. a container without duration) they come from a PyAV packet scan.
Container-level facts decord does not expose (sample aspect ratio, display matrix, codec,
audio, start time) always come from PyAV headers plus the first decoded frame.

A gap between two frames' timestamps longer than `max_gap_s` is a jump (a broken or hostile
file: one frame stamped a million seconds late). The duration is the time the frames play,
each jump counted as one frame interval, so a claimed span never turns into work or into a
longer decoding time limit; the split cuts the video at each jump.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

log = logging.getLogger(__name__)


class ProbeError(RuntimeError):
    """The file is not a readable video."""


@dataclass
class VideoProbe:
    num_frames: int
    duration: float  # seconds the frames play, first frame start to last frame end, jumps left out
    avg_fps: float
    coded_width: int
    coded_height: int
    sample_aspect_ratio: tuple[int, int]
    rotation: int  # degrees counter-clockwise to display, one of 0, 90, 180, 270
    display_width: int
    display_height: int
    codec: str
    has_audio: bool
    start_time: float  # seconds of the first frame's pts
    backend: str  # which reader produced the timestamps
    timestamps: np.ndarray = field(repr=False)  # frame start times (s), relative to start_time
    frame_step: float = 0.0  # the median interval between frames (s)
    jumps: tuple[int, ...] = ()  # frames whose timestamp jumps past the one before by more than max_gap_s

    @property
    def display_aspect_ratio(self) -> float:
        return self.display_width / self.display_height

    def metadata(self) -> dict:
        """The columns the output contract stores (timestamps stay behind)."""
        return {
            "num_frames": self.num_frames,
            "duration": self.duration,
            "avg_fps": self.avg_fps,
            "coded_width": self.coded_width,
            "coded_height": self.coded_height,
            "sar": f"{self.sample_aspect_ratio[0]}:{self.sample_aspect_ratio[1]}",
            "rotation": self.rotation,
            "display_width": self.display_width,
            "display_height": self.display_height,
            "codec": self.codec,
            "has_audio": self.has_audio,
            "start_time": self.start_time,
            "probe_backend": self.backend,
            "timestamp_jumps": len(self.jumps),
        }


def probe_video(path: str, max_gap_s: float = math.inf) -> VideoProbe:
    """Probe a local file. Raises ProbeError with the reason when it is not a usable video."""
    path = str(path)
    header = _read_header(path)
    from decord import DECORDError

    try:
        timestamps, backend = _decord_timestamps(path), "decord"
    except (DECORDError, RuntimeError, ProbeError) as exc:  # decord raises bare RuntimeError on what it dislikes
        log.info("decord could not index %s (%s); scanning packets with PyAV", path, exc)
        timestamps, backend = _pyav_timestamps(path, header["start_time"], header["rate"]), "pyav"
    if len(timestamps) == 0:
        raise ProbeError(f"{path}: the video stream holds no frames")
    steps = np.diff(timestamps)
    frame_step = float(np.median(steps)) if len(steps) else 1 / header["rate"]
    jumps = np.flatnonzero(steps > max_gap_s)
    duration = float(timestamps[-1] - timestamps[0]) + frame_step - float(np.sum(steps[jumps] - frame_step))
    sar = header["sar"]
    display_w, display_h = _display_size(header["width"], header["height"], sar, header["rotation"])
    return VideoProbe(
        num_frames=len(timestamps),
        duration=duration,
        avg_fps=len(timestamps) / duration,
        coded_width=header["width"],
        coded_height=header["height"],
        sample_aspect_ratio=(sar.numerator, sar.denominator),
        rotation=header["rotation"],
        display_width=display_w,
        display_height=display_h,
        codec=header["codec"],
        has_audio=header["has_audio"],
        start_time=header["start_time"],
        backend=backend,
        timestamps=timestamps,
        frame_step=frame_step,
        jumps=tuple(int(j) + 1 for j in jumps),
    )


def _read_header(path: str) -> dict:
    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        raise ProbeError(f"{path}: not a readable media file ({exc})") from exc
    with container:
        if not container.streams.video:
            raise ProbeError(f"{path}: the file has no video stream")
        if container.format.name == "image2" or container.format.name.endswith("_pipe"):
            raise ProbeError(f"{path}: a still image ({container.format.name}), not a video")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first = _first_frame(container, stream, path)
        ctx = stream.codec_context
        sar = stream.sample_aspect_ratio or ctx.sample_aspect_ratio
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        return {
            "width": ctx.width or first.width,
            "height": ctx.height or first.height,
            "sar": Fraction(sar) if sar and sar > 0 else Fraction(1),
            "rotation": int(first.rotation) % 360,
            "codec": ctx.name,
            "has_audio": bool(container.streams.audio),
            "start_time": float(first.time or 0.0),
            "rate": float(rate) if rate else 25.0,
        }


def _first_frame(container: av.container.InputContainer, stream: av.VideoStream, path: str) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as exc:
        raise ProbeError(f"{path}: the first video frame cannot be decoded ({exc})") from exc
    raise ProbeError(f"{path}: the video stream holds no decodable frame")


def _decord_timestamps(path: str) -> np.ndarray:
    import decord

    reader = decord.VideoReader(path, num_threads=1)
    try:
        n = len(reader)
        if n == 0:
            raise ProbeError(f"{path}: decord found no frames")
        times = np.asarray(reader.get_frame_timestamp(np.arange(n))[:, 0], dtype=np.float64)
    finally:
        del reader
    if np.any(np.diff(times) <= 0):
        # decord keeps times as float32: far from zero (a stamp a million seconds late)
        # neighbouring frames get the same time, and PyAV's float64 scan is needed
        raise ProbeError(f"{path}: decord's frame times do not increase")
    return times


def _pyav_timestamps(path: str, start_time: float, rate: float) -> np.ndarray:
    """Presentation times of every video packet, from demuxing alone (no decode). Raw
    elementary streams carry no timestamps; their frames are spaced at the stream rate."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base) if stream.time_base else 0.0
        pts = [p.pts for p in container.demux(stream) if p.size > 0]
    if not pts or any(p is None for p in pts) or not tb:
        return np.arange(len(pts), dtype=np.float64) / rate
    return np.sort(np.asarray(pts, dtype=np.float64)) * tb - start_time


def _display_size(width: int, height: int, sar: Fraction, rotation: int) -> tuple[int, int]:
    """Screen size: stretch width by the sample aspect ratio, then swap sides for 90/270."""
    display_w = round(width * sar) if sar >= 1 else width
    display_h = height if sar >= 1 else round(height / sar)
    if rotation in (90, 270):
        display_w, display_h = display_h, display_w
    return max(display_w, 1), max(display_h, 1)
