"""The trainer's own model folder: the processor parameters it will really apply.

A trainer loads its processors from the model it trains (`AutoProcessor.from_pretrained`),
so the bounds that count are that folder's `preprocessor_config.json` and
`video_preprocessor_config.json`, with transformers' class defaults for what they leave out,
and not the Hub's published values the profiles assume. `read_model` loads them the same
way, once, on the driver, and says where each parameter came from.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from cluster.tokens.geometry import PATCH_SIZE, SPATIAL_MERGE, TEMPORAL_PATCH
from cluster.tokens.profiles import TokenProfile
from cluster.usage import UsageError

IMAGE_FILE = "preprocessor_config.json"
VIDEO_FILE = "video_preprocessor_config.json"
# config.json model types and the family whose processor they use
MODEL_TYPES = {
    "qwen2_vl": "qwen2-vl",
    "qwen2_5_vl": "qwen2.5-vl",
    "qwen3_vl": "qwen3-vl",
    "qwen3_vl_moe": "qwen3-vl",
    "qwen3_5": "qwen3-vl",
    "qwen3_5_moe": "qwen3-vl",
}


class ModelMismatch(UsageError):
    """tokens.model cannot be read, or is not a model of tokens.family."""


@dataclass(frozen=True)
class ModelProcessor:
    family: str
    values: dict  # token profile parameters as the model's processors apply them
    sources: dict  # parameter -> the file it came from, or the transformers class default


def effective_profile(
    profile: TokenProfile, explicit: Collection[str], model: str | None
) -> tuple[TokenProfile, dict[str, str]]:
    """The profile with the model's processor parameters under the ones set in the config
    (`explicit`), and where each resolved parameter came from."""
    resolved = profile.resolved()
    sources = {key: f"tokens.{key}" if key in explicit else "profile default" for key in resolved}
    if model is None:
        return profile, sources
    found = read_model(model, profile.family, profile.consumer)
    taken = {key: value for key, value in found.values.items() if key not in explicit}
    sources.update({key: f"{model}: {found.sources[key]}" for key in taken})
    return profile.with_overrides(**taken), sources


@functools.lru_cache(maxsize=4)
def read_model(source: str, family: str, consumer: str) -> ModelProcessor:
    """The profile parameters of `consumer` that the model at `source` (a folder or a Hugging
    Face id) fixes, checked against `family`."""
    from transformers import AutoImageProcessor, AutoVideoProcessor, PretrainedConfig

    try:
        config, _ = PretrainedConfig.get_config_dict(source)
        image = AutoImageProcessor.from_pretrained(source)
        video = AutoVideoProcessor.from_pretrained(source)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelMismatch(
            f"tokens.model {source!r} cannot be read ({type(exc).__name__}: {exc}); give the folder (or Hugging Face "
            "id) of the model you train, holding config.json and its processor configs"
        ) from exc
    model_type = config.get("model_type", "")
    if MODEL_TYPES.get(model_type) != family:
        raise ModelMismatch(
            f"tokens.model {source!r} is a {model_type or 'model of unknown type'} model, which is not "
            f"tokens.family {family!r}; set tokens.family to the model's family ({MODEL_TYPES.get(model_type)})"
        )
    for processor in (image, video):
        _check_geometry(source, family, processor)
    image_size, video_size = dict(image.size), dict(video.size)
    found = {
        "image_min_pixels": (image_size["shortest_edge"], IMAGE_FILE, "size"),
        "image_max_pixels": (image_size["longest_edge"], IMAGE_FILE, "size"),
        "video_min_pixels": (video_size["shortest_edge"], VIDEO_FILE, "size"),
        "video_max_pixels": (video_size["longest_edge"], VIDEO_FILE, "size"),
        "min_frames": (video.min_frames, VIDEO_FILE, "min_frames"),
        "max_frames": (video.max_frames, VIDEO_FILE, "max_frames"),
        # the processors treat an unset cap as no cap (with a warning)
        "cap_pixels_per_frame": (bool(video.cap_pixels_per_frame), VIDEO_FILE, "cap_pixels_per_frame"),
        "max_video_tokens": (video.max_video_tokens, VIDEO_FILE, "max_video_tokens"),
    }
    if video.fps is not None:  # Qwen3-VL's video processor samples at its own fps
        found["fps"] = (float(video.fps), VIDEO_FILE, "fps")
    if consumer == "llamafactory":
        if found["cap_pixels_per_frame"][0]:
            raise ModelMismatch(
                f"tokens.model {source!r} caps video pixels per frame (cap_pixels_per_frame), which the llamafactory "
                "profile does not model; use consumer 'hf-processor' or a model whose video processor leaves it off"
            )
        renamed = {
            "image_min_pixels": "processor_min_pixels",
            "image_max_pixels": "processor_max_pixels",
            "video_min_pixels": "processor_video_min_pixels",
            "video_max_pixels": "processor_video_max_pixels",
        }
        found = {renamed[k]: v for k, v in found.items() if k in renamed}
    elif consumer != "hf-processor":
        found = {}
    files = {name: _raw(source, name) for name in (IMAGE_FILE, VIDEO_FILE)}
    if not files[VIDEO_FILE]:  # transformers then reads the video processor from the image file
        files[VIDEO_FILE] = files[IMAGE_FILE]
    values = {key: value for key, (value, _, _) in found.items()}
    sources = {
        key: name if field in files[name] or _legacy(field, files[name]) else f"transformers default of {_kind(name)}"
        for key, (_, name, field) in found.items()
    }
    return ModelProcessor(family, values, sources)


def _check_geometry(source: str, family: str, processor) -> None:
    geometry = (processor.patch_size, processor.merge_size, getattr(processor, "temporal_patch_size", TEMPORAL_PATCH))
    expected = (PATCH_SIZE[family], SPATIAL_MERGE, TEMPORAL_PATCH)
    if geometry != expected:
        raise ModelMismatch(
            f"tokens.model {source!r}: {type(processor).__name__} has patch, merge and temporal patch sizes "
            f"{geometry}, but {family} counts are made for {expected}; use the model's own family"
        )


def _raw(source: str, name: str) -> dict:
    """The file's own keys (to tell them from class defaults); {} when it is not there."""
    path = Path(source) / name
    if path.is_file():
        return json.loads(path.read_text())
    if Path(source).is_dir():
        return {}
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return json.loads(Path(hf_hub_download(source, name)).read_text())
    except EntryNotFoundError:
        return {}


def _legacy(field: str, raw: dict) -> bool:
    """Older configs give the size bounds as min_pixels/max_pixels."""
    return field == "size" and ("min_pixels" in raw or "max_pixels" in raw)


def _kind(name: str) -> str:
    return "the image processor" if name == IMAGE_FILE else "the video processor"
