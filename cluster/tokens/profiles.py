"""Token profiles: which trainer-side consumer reads the media, and with what parameters.

A profile fixes every knob that changes placeholder counts. Unset fields take the
consumer's documented defaults (docs/token-spec.md), so two profiles that resolve to the
same parameters always produce the same counts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from cluster.tokens.geometry import resize_factor

Consumer = Literal["qwen-vl-utils", "hf-processor", "llamafactory", "qwen-vl-finetune"]
Family = Literal["qwen2-vl", "qwen2.5-vl", "qwen3-vl"]
# Qwen3-VL timestamps count seconds from the start of the source video, or of the clip
TimestampOrigin = Literal["source", "clip"]

# Newer models that reuse Qwen3-VL's processor (transformers maps them to Qwen3VLProcessor).
FAMILY_ALIASES = {"qwen3.5": "qwen3-vl", "qwen3.5-moe": "qwen3-vl", "qwen3-vl-moe": "qwen3-vl"}

# Combinations whose rules are not reproduced exactly here; refusing them is better than
# storing counts the trainer will not reproduce.
UNSUPPORTED = {
    ("qwen-vl-finetune", "qwen3-vl"): (
        "qwen-vl-finetune hands Qwen3-VL's processor the mp4, which samples it again at video_fps and "
        "times the frames from the clip's start; that path is not reproduced here"
    ),
}
NEAREST = "hf-processor"  # the consumer every refused family is exact under
# Consumers that time the frames they are handed from the clip's own start, whatever
# metadata the sample carries: Qwen3-VL source times cannot reach the model through them.
CLIP_TIMED = {
    "qwen-vl-utils": "qwen-vl-utils times a frame list as i / sample_fps and a clip file from its own first frame",
    "llamafactory": "LLaMA-Factory's Qwen3VLPlugin times a frame list as i / video_fps and a clip from its own start",
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
    # LLaMA-Factory pre-scales media, then the model's processors apply these bounds:
    # the image processor's, and the video processor's
    processor_min_pixels: int | None = None
    processor_max_pixels: int | None = None
    processor_video_min_pixels: int | None = None
    processor_video_max_pixels: int | None = None
    # transformers' video processors (hf-processor): the per-frame pixel cap, recorded so the
    # counts do not move when transformers flips its default, and the tokens it is derived from
    # (Qwen2/2.5-VL: the whole video's budget; Qwen3-VL: the ceiling per frame)
    cap_pixels_per_frame: bool | None = None
    max_video_tokens: int | None = None
    timestamp_origin: TimestampOrigin | None = None

    @field_validator("family", mode="before")
    @classmethod
    def _alias(cls, family: object) -> object:
        return FAMILY_ALIASES.get(family, family) if isinstance(family, str) else family

    @model_validator(mode="after")
    def _check(self) -> TokenProfile:
        reason = UNSUPPORTED.get((self.consumer, self.family))
        if reason:
            raise ValueError(
                f"token profile {self.consumer} with {self.family} cannot be counted exactly ({reason}); "
                f"the nearest exact profile is consumer {NEAREST!r} with family {self.family!r}"
            )
        if self.timestamp_origin is not None and not self.timestamps:
            raise ValueError("token profile: timestamp_origin applies to family 'qwen3-vl' only")
        if self.clip_timed and self.timestamp_origin != "clip":
            raise ValueError(
                f"token profile {self.consumer} with {self.family} cannot write source-video timestamps "
                f"({CLIP_TIMED[self.consumer]}); set tokens.timestamp_origin: clip to count the clip-relative "
                f"times it writes, or use consumer {NEAREST!r} for times from the start of the source video"
            )
        for keys, consumer in (
            (("cap_pixels_per_frame", "max_video_tokens"), "hf-processor"),
            (("video_total_pixels",), "qwen-vl-utils"),
            (
                (
                    "processor_min_pixels",
                    "processor_max_pixels",
                    "processor_video_min_pixels",
                    "processor_video_max_pixels",
                ),
                "llamafactory",
            ),
        ):
            misplaced = [k for k in keys if getattr(self, k) is not None]
            if misplaced and self.consumer != consumer:
                raise ValueError(f"token profile: {', '.join(misplaced)} apply to consumer {consumer!r} only")
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

    @property
    def timestamps(self) -> bool:
        """Whether the processor writes a timestamp before every temporal step."""
        return self.family == "qwen3-vl"

    @property
    def clip_timed(self) -> bool:
        """Whether the consumer times Qwen3-VL frames by their position in what it reads."""
        return self.timestamps and self.consumer in CLIP_TIMED

    @property
    def outer_vision_pair(self) -> bool:
        """Whether a video keeps the chat template's vision start/end pair around its steps
        (LLaMA-Factory's Qwen3-VL plugin writes only the per-step pairs)."""
        return not (self.timestamps and self.consumer == "llamafactory")

    def resolved(self) -> dict:
        """All parameters with the consumer's defaults filled in."""
        overrides = self.model_dump(exclude={"consumer", "family"}, exclude_none=True)
        return {**_defaults(self.consumer, self.family, self.factor), **overrides}

    def with_overrides(self, **changes: object) -> TokenProfile:
        return self.model_copy(update=changes)


def _defaults(consumer: Consumer, family: Family, f: int) -> dict:
    if family == "qwen3-vl":
        return {"timestamp_origin": "source", **_consumer_defaults(consumer, family, f)}
    return _consumer_defaults(consumer, family, f)


def _consumer_defaults(consumer: Consumer, family: Family, f: int) -> dict:
    qwen_frames = {"fps": 2.0, "min_frames": 4, "max_frames": 768}  # Qwen's own sampling defaults
    if consumer == "hf-processor" and family == "qwen3-vl":
        # the published Qwen3-VL processor configs; video bounds are for frames x height x width
        return {
            **qwen_frames,
            "video_min_pixels": 4096,
            "video_max_pixels": 24576 * f * f,
            "cap_pixels_per_frame": True,
            "max_video_tokens": 768,
            "image_min_pixels": 65536,
            "image_max_pixels": 16777216,
        }
    if consumer == "hf-processor":
        return {
            **qwen_frames,
            "video_min_pixels": 128 * f * f,
            "video_max_pixels": 768 * f * f,
            "cap_pixels_per_frame": True,
            "max_video_tokens": 128000,
            "image_min_pixels": 56 * 56,
            "image_max_pixels": 16384 * 28 * 28,
        }
    if consumer == "qwen-vl-utils":
        return {
            **qwen_frames,
            "video_min_pixels": 128 * f * f,
            "video_max_pixels": 768 * f * f,
            "video_total_pixels": int(128000 * f * f * 0.9),
            "image_min_pixels": 4 * f * f,
            "image_max_pixels": 16384 * f * f,
        }
    if consumer == "llamafactory":
        # LLaMA-Factory's pre-scaling, then the published processor configs of the family
        published = (
            {"image": (65536, 16777216), "video": (4096, 24576 * f * f)}
            if family == "qwen3-vl"
            else {"image": (56 * 56, 16384 * 28 * 28), "video": (56 * 56, 16384 * 28 * 28)}
        )
        return {
            "fps": 2.0,
            "max_frames": 128,
            "video_min_pixels": 16 * 16,
            "video_max_pixels": 256 * 256,
            "image_min_pixels": 32 * 32,
            "image_max_pixels": 768 * 768,
            "processor_min_pixels": published["image"][0],
            "processor_max_pixels": published["image"][1],
            "processor_video_min_pixels": published["video"][0],
            "processor_video_max_pixels": published["video"][1],
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
