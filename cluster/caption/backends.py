"""Opening the configured captioning backend, and checking on the driver that it can run.
The interface they share is in cluster/caption/requests.py."""

from __future__ import annotations

from cluster.caption.requests import Captioner, CaptionUnavailable
from cluster.caption.settings import CaptionConfig


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


def check_captioner(cfg: CaptionConfig) -> None:
    """Driver-side check before any work: the model can be found (tiny-random is built)."""
    if cfg.backend == "tiny-random":
        from cluster.caption.tiny_model import tiny_model_dir

        tiny_model_dir()
    elif cfg.backend in ("transformers", "vllm"):
        from transformers import AutoConfig

        assert cfg.model, "CaptionConfig requires caption.model for these backends"
        try:
            AutoConfig.from_pretrained(cfg.model)
        except (OSError, ValueError) as exc:
            raise CaptionUnavailable(
                f"caption.model {cfg.model!r} cannot be loaded ({exc}); give a local model folder or a "
                "Hugging Face id reachable from the cluster (set HF_HOME to a cache that holds it when offline)"
            ) from exc
