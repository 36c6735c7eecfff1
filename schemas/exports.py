"""The dataset in the formats trainers read directly, written from the same samples.

Each format belongs to one trainer, and the stored counts are exact only for the token
profile of that trainer: exporting samples counted for another consumer is refused with
the command that recounts them (`--set tokens.consumer=...` redoes pass 3 only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq

from schemas.trainer import DATASET_NAME, dataset_info

CONSUMER = {"llamafactory": "llamafactory", "qwen-vl-finetune": "qwen-vl-finetune", "ms-swift": "qwen-vl-utils"}
ROLE_TO_FROM = {"user": "human", "assistant": "gpt"}


class ExportError(ValueError):
    """These samples cannot be written in the asked format; the message says what to change."""


def export(dataset_root: Path, fmt: str, out: Path) -> Path:
    """Write `fmt` for the samples under `dataset_root`/dataset into `out`; returns the data file."""
    if fmt not in CONSUMER:
        raise ExportError(f"unknown export format {fmt!r}; use one of {sorted(CONSUMER)}")
    samples = list(_samples(dataset_root))
    profiles = {s["token_profile"].split(":")[0] for s in samples}
    if profiles - {CONSUMER[fmt]}:
        raise ExportError(
            f"{fmt} reads counts made for the {CONSUMER[fmt]} profile but these samples were counted for "
            f"{sorted(profiles)}; rerun the job with --set tokens.consumer={CONSUMER[fmt]} (passes 1 and 2 are reused)"
        )
    out.mkdir(parents=True, exist_ok=True)
    root = dataset_root.resolve()
    if fmt == "qwen-vl-finetune":
        path = out / f"{DATASET_NAME}_qwen_vl_finetune.json"
        _write_json(path, [qwen_vl_finetune(s, root) for s in samples])
        return path
    path = out / f"{DATASET_NAME}.jsonl"
    _write_jsonl(path, (sharegpt(s, root) for s in samples))
    if fmt == "llamafactory":
        info = dataset_info(any(s["images"] for s in samples))
        info[DATASET_NAME]["file_name"] = path.name
        _write_json(out / "dataset_info.json", info)
    return path


def sharegpt(sample: dict, root: Path) -> dict:
    """LLaMA-Factory and ms-swift: messages with <video>/<image>, media as absolute paths
    (a video is its frame files, or its mp4 when only clips were written)."""
    videos = [[str(root / f) for f in frames] for frames in sample["videos"]] or [str(root / c) for c in sample["video_clips"]]
    entry = {"messages": sample["messages"], "videos": videos, "images": [str(root / i) for i in sample["images"]]}
    return {k: v for k, v in entry.items() if v or k == "messages"}


def qwen_vl_finetune(sample: dict, root: Path) -> dict:
    """qwen-vl-finetune: conversations with from/value, the mp4 clip as the video, and
    num_tokens for its length-grouped packing."""
    if sample["videos"] and not sample["video_clips"]:
        raise ExportError("qwen-vl-finetune reads videos as files: write clips (output.media: clip or both) and rerun")
    turns = [m for m in sample["messages"] if m["role"] != "system"]
    entry: dict = {
        "id": sample["id"],
        "conversations": [{"from": ROLE_TO_FROM[m["role"]], "value": m["content"]} for m in turns],
        "num_tokens": sample["total_tokens"],
    }
    if sample["video_clips"]:
        entry["video"] = str(root / sample["video_clips"][0])
    if sample["images"]:
        images = [str(root / i) for i in sample["images"]]
        entry["image"] = images[0] if len(images) == 1 else images
    return entry


def _samples(root: Path) -> Iterator[dict]:
    columns = ["id", "messages", "videos", "video_clips", "images", "total_tokens", "token_profile"]
    for shard in sorted((root / "dataset").glob("part-*.parquet")):
        yield from pq.read_table(shard, columns=columns).to_pylist()


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _write_json(path: Path, payload) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1))
    tmp.replace(path)
