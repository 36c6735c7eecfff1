"""The dataset in the formats trainers read directly, written from the same samples.

Each format belongs to one trainer, and the stored counts are exact only for the token
profile of that trainer: exporting samples counted for another consumer is refused with
the command that recounts them (`--set tokens.consumer=...` redoes pass 3 only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

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
    profiles = {p.split(":")[0] for p in _column(dataset_root, "token_profile")}
    if profiles - {CONSUMER[fmt]}:
        raise ExportError(
            f"{fmt} reads counts made for the {CONSUMER[fmt]} profile but these samples were counted for "
            f"{sorted(profiles)}; rerun the job with --set tokens.consumer={CONSUMER[fmt]} (passes 1 and 2 are reused)"
        )
    out.mkdir(parents=True, exist_ok=True)
    root = dataset_root.resolve()
    if fmt == "qwen-vl-finetune":
        path = out / f"{DATASET_NAME}_qwen_vl_finetune.json"
        _write_json_array(path, (qwen_vl_finetune(s, root) for s in _samples(dataset_root)))
        return path
    path = out / f"{DATASET_NAME}.jsonl"
    _write_jsonl(path, (sharegpt(s, root) for s in _samples(dataset_root)))
    if fmt == "llamafactory":
        info = dataset_info(any(_column(dataset_root, "images")))
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
    """Samples one shard at a time, so an export of millions holds one shard in memory."""
    columns = ["id", "messages", "videos", "video_clips", "images", "total_tokens", "token_profile"]
    for shard in _shards(root):
        yield from pq.read_table(shard, columns=columns).to_pylist()


def _column(root: Path, name: str) -> Iterator:
    for shard in _shards(root):
        yield from pq.read_table(shard, columns=[name]).column(name).to_pylist()


def _shards(root: Path) -> list[Path]:
    return sorted((root / "dataset").glob("part-*.parquet"))


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with _replacing(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_json_array(path: Path, rows: Iterable[dict]) -> None:
    """A JSON array written element by element."""
    with _replacing(path) as f:
        f.write("[")
        for i, row in enumerate(rows):
            f.write(("," if i else "") + "\n" + json.dumps(row, ensure_ascii=False))
        f.write("\n]\n")


@contextmanager
def _replacing(path: Path) -> Iterator[TextIO]:
    """A file written under a temporary name and renamed when complete; removed if writing fails."""
    tmp = path.with_suffix(".tmp")
    try:
        with tmp.open("w") as f:
            yield f
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def _write_json(path: Path, payload: dict) -> None:
    with _replacing(path) as f:
        f.write(json.dumps(payload, ensure_ascii=False, indent=1))
