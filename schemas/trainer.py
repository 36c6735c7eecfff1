"""What a trainer needs beside the samples: LLaMA-Factory's dataset_info.json entry and the
arguments under which the stored placeholder counts are exact."""

from __future__ import annotations

from cluster.tokens.profiles import TokenProfile
from cluster.tokens.text import LLAMAFACTORY_TEMPLATES

DATASET_NAME = "vidcurate"


def dataset_info(include_images: bool) -> dict:
    columns = {"messages": "messages", "videos": "videos"}
    if include_images:
        columns["images"] = "images"
    return {
        DATASET_NAME: {
            "file_name": "dataset",
            "formatting": "sharegpt",
            "columns": columns,
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }
    }


def trainer_args(profile: TokenProfile, dataset_root: str, max_sample_tokens: int, text_counted: bool) -> dict:
    """Arguments for the profile's consumer that reproduce the stored counts; the length
    limits cover the longest sample (its text too when `text_counted`)."""
    p = profile.resolved()
    note = (
        "Counts hold when each video is given as its listed frame files (every frame used, "
        "no resampling) or as its mp4 in video_clips, and images as listed."
    )
    if profile.timestamps:
        origin = "the source video" if p["timestamp_origin"] == "source" else "the clip's first frame"
        note += f" Qwen3-VL timestamps count seconds from {origin}."
    if not text_counted:
        note += " Text is not counted (tokens.tokenizer unset): add the longest prompt and answer to the length limits."
    common = {
        "profile": profile.name,
        "parameters": p,
        "max_tokens_per_sample": max_sample_tokens,
        "text_counted": text_counted,
        "note": note,
    }
    if profile.consumer == "llamafactory":
        args = {
            # the text is counted as this template renders it (qwen3_5_nothink, for Qwen3.5
            # models, renders the same)
            "template": LLAMAFACTORY_TEMPLATES[profile.family][0],
            "dataset": DATASET_NAME,
            "dataset_dir": dataset_root,
            "media_dir": dataset_root,
            "video_fps": p["fps"],
            "video_maxlen": p["max_frames"],
            "video_max_pixels": p["video_max_pixels"],
            "video_min_pixels": p["video_min_pixels"],
            "image_max_pixels": p["image_max_pixels"],
            "image_min_pixels": p["image_min_pixels"],
            "cutoff_len": max_sample_tokens,
        }
        return {**common, "llamafactory": args}
    if profile.consumer == "qwen-vl-finetune":
        # the names of QwenLM/Qwen3-VL's qwen-vl-finetune (DataArguments, and TrainingArguments'
        # model_max_length): its data_processor.py sets them on the model's processors, which
        # then read each mp4 whole (the Qwen2-VL video processor samples no frames)
        args = {
            "max_pixels": p["image_max_pixels"],
            "min_pixels": p["image_min_pixels"],
            "video_max_pixels": p["video_max_pixels"],
            "video_min_pixels": p["video_min_pixels"],
            "video_fps": p["fps"],
            "video_min_frames": p["min_frames"],
            "video_max_frames": p["max_frames"],
            "model_max_length": max_sample_tokens,
        }
        return {**common, "qwen_vl_finetune": args}
    if profile.consumer == "qwen-vl-utils":
        return {**common, "qwen_vl_utils": _qwen_vl_utils(profile, p)}
    return {**common, "hf_processor": _hf_processor(profile, p)}


def _qwen_vl_utils(profile: TokenProfile, p: dict) -> dict:
    """Keys to put verbatim in each content element (`{"type": "video", "video": ..., **video}`)
    and the patch size to pass to `process_vision_info(..., image_patch_size=...)`."""
    frames = (
        {"nframes": p["nframes"]}
        if "nframes" in p
        else {"fps": p["fps"], "min_frames": p["min_frames"], "max_frames": p["max_frames"]}
    )
    video = {
        "min_pixels": p["video_min_pixels"],
        "max_pixels": p["video_max_pixels"],
        "total_pixels": p["video_total_pixels"],
        **frames,
    }
    if profile.timestamps:  # a frame list is timed i / sample_fps (ms-swift: its FPS variable)
        video["sample_fps"] = p["fps"]
    return {
        "image_patch_size": profile.factor // 2,
        "video": video,
        "image": {"min_pixels": p["image_min_pixels"], "max_pixels": p["image_max_pixels"]},
    }


def _hf_processor(profile: TokenProfile, p: dict) -> dict:
    """Keyword arguments of transformers' image and video processors, and what to pass with
    each video: its stored frames (or its mp4) with the sample's `video_metadata`."""
    patch = profile.factor // 2
    return {
        "image_processor": {
            "patch_size": patch,
            "size": {"shortest_edge": p["image_min_pixels"], "longest_edge": p["image_max_pixels"]},
        },
        "video_processor": {
            "patch_size": patch,
            "size": {"shortest_edge": p["video_min_pixels"], "longest_edge": p["video_max_pixels"]},
            "do_sample_frames": False,
            "cap_pixels_per_frame": p["cap_pixels_per_frame"],
            "max_video_tokens": p["max_video_tokens"],
        },
        "per_video": "video_metadata=media[i].video_metadata of the sample (the frames are already sampled)",
    }
