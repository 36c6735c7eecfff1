"""Token profiles: which trainer-side consumer reads the media, and with what parameters.

A profile fixes every knob that changes placeholder counts. Unset fields take the
consumer's documented defaults (docs/token-spec.md), so two profiles that resolve to the
same parameters always produce the same counts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from cluster.tokens.geometry import resize_factor

Consumer = Literal["qwen-vl-utils", "hf-processor", "llamafactory", "qwen-vl-finetune"]
Family = Literal["qwen2-vl", "qwen2.5-vl", "qwen3-vl"]

# Combinations whose video rules differ from every rule implemented here; refusing them is
# better than storing counts the trainer will not reproduce.
UNSUPPORTED = {
    ("hf-processor", "qwen3-vl"): "transformers' Qwen3-VL video processor budgets pixels over the whole clip",
    ("llamafactory", "qwen3-vl"): "LLaMA-Factory's Qwen3-VL plugin adds per-step timestamps with other rules",
    ("qwen-vl-finetune", "qwen3-vl"): "qwen-vl-finetune's defaults are documented for Qwen2/2.5-VL only",
}


class TokenProfile(BaseModel):
    """Consumer + model family + the parameters that change counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    consumer: Consumer = "qwen-vl-utils"
    family: Family = "qwen2.5-vl"
    fps: float | None = None
    nframes: int | None = None
    min_frames: int | None = None
    max_frames: int | None = None
    video_min_pixels: int | None = None
    video_max_pixels: int | None = None
    video_total_pixels: int | None = None
    image_min_pixels: int | None = None
    image_max_pixels: int | None = None
    # LLaMA-Factory pre-scales media, then its processor applies these bounds.
    processor_min_pixels: int | None = None
    processor_max_pixels: int | None = None

    @model_validator(mode="after")
    def _check(self) -> TokenProfile:
        reason = UNSUPPORTED.get((self.consumer, self.family))
        if reason:
            raise ValueError(
                f"token profile {self.consumer} with {self.family} is not supported ({reason}); "
                "use consumer 'qwen-vl-utils' for Qwen3-VL"
            )
        if self.fps is not None and self.nframes is not None:
            raise ValueError("token profile: set either fps or nframes, not both")
        if self.fps is not None and self.fps <= 0:
            raise ValueError(f"token profile: fps must be positive, got {self.fps}")
        return self

    @property
    def name(self) -> str:
        return f"{self.consumer}:{self.family}"

    @property
    def factor(self) -> int:
        return resize_factor(self.family)

    def resolved(self) -> dict:
        """All parameters with the consumer's defaults filled in."""
        overrides = self.model_dump(exclude={"consumer", "family"}, exclude_none=True)
        return {**_defaults(self.consumer, self.factor), **overrides}

    def with_overrides(self, **changes: object) -> TokenProfile:
        return self.model_copy(update=changes)


def _defaults(consumer: Consumer, f: int) -> dict:
    if consumer in ("qwen-vl-utils", "hf-processor"):
        image_bounds = (4 * f * f, 16384 * f * f) if consumer == "qwen-vl-utils" else (56 * 56, 16384 * 28 * 28)
        return {
            "fps": 2.0,
            "min_frames": 4,
            "max_frames": 768,
            "video_min_pixels": 128 * f * f,
            "video_max_pixels": 768 * f * f,
            "video_total_pixels": int(128000 * f * f * 0.9),
            "image_min_pixels": image_bounds[0],
            "image_max_pixels": image_bounds[1],
        }
    if consumer == "llamafactory":
        return {
            "fps": 2.0,
            "max_frames": 128,
            "video_min_pixels": 16 * 16,
            "video_max_pixels": 256 * 256,
            "image_min_pixels": 32 * 32,
            "image_max_pixels": 768 * 768,
            "processor_min_pixels": 56 * 56,
            "processor_max_pixels": 16384 * 28 * 28,
        }
    return {
        "fps": 2.0,
        "min_frames": 4,
        "max_frames": 8,
        "video_min_pixels": 256 * 28 * 28,
        "video_max_pixels": 1024 * 28 * 28,
        "image_min_pixels": 16 * 28 * 28,
        "image_max_pixels": 576 * 28 * 28,
    }
