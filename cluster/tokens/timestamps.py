"""Qwen3-VL's per-step timestamp text, as transformers' Qwen3VLProcessor writes it.

Before every temporal step (two frames) the processor inserts `<t seconds>`: the mean of
the step's two frame times, each `frames_indices[i] / fps` of the video metadata it is
handed, with one decimal. An odd frame count repeats the last index first.

Qwen's tokenizer splits every digit and the dot apart, and `<`, ` seconds` and `>` are one
token each, wherever the text follows a special token (the vision start before the first
step, the vision end before the others); tests check the rule against the real tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.tokens.geometry import TEMPORAL_PATCH


def step_timestamps(frame_indices: Sequence[int], fps: float) -> tuple[float, ...]:
    """One time per temporal step, in seconds."""
    indices = list(frame_indices)
    if len(indices) % TEMPORAL_PATCH:
        indices.append(indices[-1])
    times = [i / fps for i in indices]
    return tuple((times[i] + times[i + TEMPORAL_PATCH - 1]) / 2 for i in range(0, len(times), TEMPORAL_PATCH))


def timestamp_text(seconds: float) -> str:
    return f"<{seconds:.1f} seconds>"


def timestamp_tokens(timestamps: Sequence[float]) -> int:
    """Tokens of the timestamp texts: one per digit and the dot, plus `<`, ` seconds`, `>`."""
    return sum(len(f"{t:.1f}") + 3 for t in timestamps)
