"""Streaming decoders: a low-resolution pass over every frame, and exact frames by time.

Nothing here holds more than one batch of small frames, or one segment's sampled frames,
in memory; long videos are read as a stream.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import av
import numpy as np

log = logging.getLogger(__name__)

# Luma grid of the low-resolution pass; chroma planes are sampled at half of it.
ANALYSIS_SIZE = (36, 64)


class SeekMissed(RuntimeError):
    """A span's first frame was not at its start: frames before it would be lost."""


class FramesMissing(RuntimeError):
    """The video holds no frame at a time its index promised."""


class CorruptFrames(RuntimeError):
    """More of the frames asked for than allowed were missing (their packets did not decode,
    so a neighbour would stand in) or reported damaged by the decoder."""

    def __init__(self, path: str, bad: int, total: int):
        super().__init__(path, bad, total)  # the arguments, so it pickles back from the decoder child
        self.path, self.bad, self.total = path, bad, total

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.bad} of {self.total} frames are missing or damaged in the file "
            "(undecodable packets, error concealment); the segment is not usable as training data"
        )


@dataclass
class FrameLog:
    """What a pass over a video decoded: each frame's presentation time (None without
    timestamps) and whether the decoder reported it damaged."""

    times: list[float | None] = field(default_factory=list)
    corrupt: list[bool] = field(default_factory=list)

    def add(self, frame: av.VideoFrame) -> None:
        self.times.append(frame.time)
        self.corrupt.append(bool(frame.is_corrupt))

    def extend(self, other: FrameLog) -> None:
        self.times.extend(other.times)
        self.corrupt.extend(other.corrupt)


def decoder_threads() -> int:
    """The CPUs this process may decode on: Ray sets OMP_NUM_THREADS to a task's num_cpus;
    outside Ray, every core. A 1-CPU task on a 64-core node must not start 64 decoders."""
    return int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1


def _open_video_stream(container: av.container.InputContainer, threads: int | None = None) -> av.VideoStream:
    """The first video stream, decoding on `threads` threads (default: decoder_threads())."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    stream.thread_count = threads or decoder_threads()
    return stream


def decoded_frames(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.VideoFrame]:
    """Every frame the decoder can produce. A packet it rejects (corrupt data mid-file) is
    skipped, and a container that ends in garbage (a truncated file) ends the stream, so
    the frames around damage are lost but never the whole video."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.InvalidDataError:
            log.info("%s: unreadable data after %s; stopping there", container.name, stream.frames)
            return
        try:
            frames = packet.decode()
        except av.InvalidDataError:
            log.info("%s: skipped a corrupt packet at pts %s", container.name, packet.pts)
            continue
        yield from frames


def iter_analysis_frames(
    path: str,
    log: FrameLog | None = None,
    batch_size: int = 256,
    span: tuple[int | None, int | None] = (None, None),
    threads: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield batches of (N, 36*64 + 2*18*32) uint8 YUV thumbnails of every decodable frame,
    in order; each frame's time and damage go to `log`.
    `span` limits the pass to frames with start <= pts < end (stream time base), starting
    at `start`, which must be a keyframe's pts (see keyframe_splits).

    Plane strides are sampled directly from the decoder's buffers: no colour conversion or
    scaling pass, which would cost more than decoding itself at 720p.
    """
    start, end = span
    with av.open(path) as container:
        stream = _open_video_stream(container, threads)
        # Deblocking costs about a quarter of H.264/HEVC decoding and changes nothing a
        # 64x36 thumbnail can show.
        stream.codec_context.options = {"skip_loop_filter": "all"}
        if start is not None:
            container.seek(start, stream=stream, backward=True)
        batch: list[np.ndarray] = []
        for frame in decoded_frames(container, stream):
            if frame.pts is not None:
                if start is not None:
                    # frames before `start` that follow it in decode order (open GOPs) belong
                    # to the span before, which decodes them from their true references
                    if frame.pts < start:
                        continue
                    if frame.pts > start:
                        raise SeekMissed(
                            f"{path}: a seek to the keyframe at pts {start} missed it (next frame at {frame.pts})"
                        )
                    start = None
                if end is not None and frame.pts >= end:
                    break
            if log is not None:
                log.add(frame)
            batch.append(_thumbnail(frame))
            if len(batch) == batch_size:
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)


def keyframe_splits(path: str, parts: int, min_seconds: float) -> list[int]:
    """The pts of up to `parts` - 1 keyframes that cut the video into stretches of about
    equal length, none shorter than about `min_seconds`. Found by seeking, without
    decoding; empty for a file that cannot seek (no duration) or is too short to split."""
    if parts < 2:
        return []
    with av.open(path) as container:
        stream = container.streams.video[0]
        if container.duration is None or stream.time_base is None:
            return []
        duration = container.duration / av.time_base
        parts = min(parts, int(duration // min_seconds))
        origin = stream.start_time or 0
        splits: set[int] = set()
        try:
            for k in range(1, parts):
                container.seek(origin + int(duration * k / parts / stream.time_base), stream=stream, backward=True)
                packet = next((p for p in container.demux(stream) if p.pts is not None), None)
                if packet is not None and packet.pts is not None and packet.is_keyframe and packet.pts > origin:
                    splits.add(packet.pts)
        except av.FFmpegError:  # damaged or unseekable: one sequential pass copes with that
            return []
        return sorted(splits)


def _thumbnail(frame: av.VideoFrame) -> np.ndarray:
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    parts = []
    for plane, (rows, cols) in zip(frame.planes, _plane_grids(), strict=True):
        # a VideoPlane supports the buffer protocol; av's stubs do not declare it
        pixels = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)  # type: ignore[call-overload]
        sy, sx = max(1, plane.height // rows), max(1, plane.width // cols)
        parts.append(_fit(pixels[::sy, : plane.width : sx], rows, cols).ravel())
    return np.concatenate(parts)


# TransNetV2's input frame; 64x36 thumbnails shrink to it by exactly 3/4 on each side.
RGB_SIZE = (27, 48)

# BT.601 studio-range YUV -> RGB, applied to (Y - 16, U - 128, V - 128)
_YUV_TO_RGB = np.array([[1.164, 0.0, 1.596], [1.164, -0.392, -0.813], [1.164, 2.017, 0.0]], np.float32)


def rgb_thumbnails(thumbnails: np.ndarray) -> np.ndarray:
    """(N, 27, 48, 3) uint8 RGB frames from a batch of the pass's YUV thumbnails (see
    iter_analysis_frames): chroma upsampled, converted, then area-averaged down."""
    rows, cols = ANALYSIS_SIZE
    planes, start = [], 0
    for (h, w), offset in zip(_plane_grids(), (16, 128, 128), strict=True):
        plane = thumbnails[:, start : start + h * w].reshape(-1, h, w).astype(np.float32) - offset
        planes.append(plane.repeat(rows // h, 1).repeat(cols // w, 2))  # chroma up to the luma grid
        start += h * w
    yuv = np.stack(planes, axis=-1)
    rgb = (yuv @ _YUV_TO_RGB.T).transpose(0, 3, 1, 2)  # (N, 3, rows, cols)
    small = _area_weights(rows, RGB_SIZE[0]) @ rgb @ _area_weights(cols, RGB_SIZE[1]).T
    return np.clip(small.transpose(0, 2, 3, 1) + 0.5, 0, 255).astype(np.uint8)


def _area_weights(size: int, out: int) -> np.ndarray:
    """(out, size) matrix averaging each output pixel's share of the input pixels it covers."""
    edges = np.arange(out + 1) * size / out
    starts, ends = np.arange(size), np.arange(1, size + 1)
    overlap = np.clip(np.minimum(ends, edges[1:, None]) - np.maximum(starts, edges[:-1, None]), 0, None)
    return (overlap / (size / out)).astype(np.float32)


def _plane_grids() -> tuple[tuple[int, int], ...]:
    rows, cols = ANALYSIS_SIZE
    return ((rows, cols), (rows // 2, cols // 2), (rows // 2, cols // 2))


def _fit(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Crop or edge-pad a strided plane sample to exactly rows×cols."""
    a = a[:rows, :cols]
    if a.shape != (rows, cols):
        a = np.pad(a, ((0, rows - a.shape[0]), (0, cols - a.shape[1])), mode="edge")
    return a


def read_frames_at(
    path: str,
    times: Sequence[float],
    start_time: float,
    rotation: int,
    size: tuple[int, int],
    max_corrupt_fraction: float = 1.0,
) -> list[np.ndarray]:
    """Decode the frames shown at `times` (seconds after `start_time`) as RGB arrays of
    `size` (h, w) in display orientation. Frames are matched to the nearest decoded one; a
    wanted frame whose nearest decoded one is more than 1.5 frame intervals away is missing
    (its packets did not decode), and one the decoder flags is damaged. More of those than
    `max_corrupt_fraction` of the frames raises CorruptFrames instead of returning stand-ins."""
    wanted = np.asarray(sorted(times), dtype=np.float64)
    coded_h, coded_w = (size[1], size[0]) if rotation in (90, 270) else size
    out: list[np.ndarray] = []
    bad = 0
    with av.open(path) as container:
        stream = _open_video_stream(container)
        seekable = container.duration is not None
        if seekable:
            container.seek(
                int((start_time + max(wanted[0] - 1.0, 0.0)) / stream.time_base), stream=stream, backward=True
            )
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        previous: tuple[float, av.VideoFrame] | None = None
        for count, frame in enumerate(decoded_frames(container, stream)):
            # raw elementary streams decode without timestamps: count frames instead
            t = float(frame.time) - start_time if seekable and frame.time is not None else count / rate
            while len(out) < len(wanted) and t >= wanted[len(out)] - 1e-6:
                target = wanted[len(out)]
                nearest = (t, frame) if previous is None or abs(t - target) <= abs(previous[0] - target) else previous
                bad += _stands_in(nearest, target, rate)
                out.append(_to_display(nearest[1], coded_w, coded_h, rotation))
            if len(out) == len(wanted):
                break
            previous = (t, frame)
        while previous is not None and len(out) < len(wanted):
            bad += _stands_in(previous, wanted[len(out)], rate)
            out.append(_to_display(previous[1], coded_w, coded_h, rotation))
    if len(out) < len(wanted):
        raise FramesMissing(f"{path}: decoded no frame at or after {wanted[0]:.3f}s; the file is likely truncated")
    if bad > max_corrupt_fraction * len(wanted):
        raise CorruptFrames(path, bad, len(wanted))
    return out


def _stands_in(nearest: tuple[float, av.VideoFrame], target: float, rate: float) -> bool:
    """Whether the nearest decoded frame only stands in for the one wanted at `target`: it
    is over 1.5 frame intervals away (the wanted one did not decode), or it is damaged."""
    return bool(abs(nearest[0] - target) > 1.5 / rate or nearest[1].is_corrupt)


def _to_display(frame: av.VideoFrame, width: int, height: int, rotation: int) -> np.ndarray:
    rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="BICUBIC").to_ndarray()
    return np.ascontiguousarray(np.rot90(rgb, k=rotation // 90)) if rotation else rgb
