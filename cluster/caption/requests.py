"""One interface over the captioning backends: a batch of requests in, one generation each out.

A request carries the segment's frames exactly as they were written for the trainer, so
the caption describes what the trainer will see. A backend never raises for one bad
request: it returns a generation whose `error` says what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cluster.usage import UsageError


@dataclass(frozen=True)
class CaptionRequest:
    frames: list[np.ndarray]  # RGB (h, w, 3) uint8, in time order
    prompt: str
    max_new_tokens: int


@dataclass(frozen=True)
class Generation:
    text: str
    finish_reason: str  # stop | length | error
    error: str | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


class Captioner(Protocol):
    model_name: str

    def generate(self, requests: list[CaptionRequest]) -> list[Generation]: ...


class CaptionUnavailable(UsageError):
    """The captioner cannot run on this cluster or with this configuration."""


def user_turn(prompt: str) -> list[dict]:
    """The chat-template messages for one video and one instruction."""
    return [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]
