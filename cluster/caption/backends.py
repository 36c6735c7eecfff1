"""One interface over the captioning backends: a batch of requests in, one generation each out.

A request carries the segment's frames exactly as they were written for the trainer, so
the caption describes what the trainer will see. A backend never raises for one bad
request: it returns a generation whose `error` says what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cluster.caption.settings import CaptionConfig


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


class CaptionUnavailable(RuntimeError):
    """The captioner cannot run on this cluster or with this configuration."""


def open_captioner(cfg: CaptionConfig, device: str) -> Captioner:
    """Load the configured backend on `device` ("cuda" or "cpu"; ignored by openai)."""
    if cfg.backend == "openai":
        from cluster.caption.openai_backend import OpenAICaptioner

        return OpenAICaptioner(cfg)
    if cfg.backend == "vllm":
        from cluster.caption.vllm_backend import VLLMCaptioner

        return VLLMCaptioner(cfg)
    if cfg.backend in ("transformers", "tiny-random"):
        from cluster.caption.hf_backend import TransformersCaptioner
        from cluster.caption.tiny_model import tiny_model_dir

        model = tiny_model_dir() if cfg.backend == "tiny-random" else cfg.model
        return TransformersCaptioner(cfg, str(model), device)
    raise CaptionUnavailable(f"caption.backend={cfg.backend} does not caption")


def user_turn(prompt: str) -> list[dict]:
    """The chat-template messages for one video and one instruction."""
    return [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]


def check_captioner(cfg: CaptionConfig) -> None:
    """Driver-side check before any work: the model can be found (tiny-random is built)."""
    if cfg.backend == "tiny-random":
        from cluster.caption.tiny_model import tiny_model_dir

        tiny_model_dir()
    elif cfg.backend in ("transformers", "vllm"):
        from transformers import AutoConfig

        try:
            AutoConfig.from_pretrained(cfg.model)
        except (OSError, ValueError) as exc:
            raise CaptionUnavailable(
                f"caption.model {cfg.model!r} cannot be loaded ({exc}); give a local model folder or a "
                "Hugging Face id reachable from the cluster (set HF_HOME to a cache that holds it when offline)"
            ) from exc
