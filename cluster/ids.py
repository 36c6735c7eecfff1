"""Stable identifiers: the same source and range give the same id on every run."""

from __future__ import annotations

import hashlib


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:20]


def video_id(uri: str) -> str:
    return "v" + _digest(uri)


def segment_id(video: str, start_frame: int, end_frame: int) -> str:
    return "s" + _digest(video, start_frame, end_frame)


def sample_id(segment: str, kind: str, profile_name: str) -> str:
    return "x" + _digest(segment, kind, profile_name)
