"""The dataset in the formats trainers read directly, written from the same samples.

Each format belongs to one trainer, and the stored counts are exact only for the token
profile of that trainer: exporting samples counted for another consumer is refused with
the command that recounts them (`--set tokens.consumer=... --replace` redoes pass 3 only).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Iterator
from pathlib import Path

from cluster.progress import committed_files
from cluster.store import Store
from cluster.tokens.profiles import CLIP_TIMED, UNSUPPORTED
from cluster.usage import UsageError
from schemas.layout import RUN
from schemas.tables import DATASET
from schemas.trainer import DATASET_NAME, dataset_info

CONSUMER = {"llamafactory": "llamafactory", "qwen-vl-finetune": "qwen-vl-finetune", "ms-swift": "qwen-vl-utils"}
ROLE_TO_FROM = {"user": "human", "assistant": "gpt"}


class ExportError(UsageError):
    """These samples cannot be written in the asked format; the message says what to change."""


def export(store: Store, fmt: str, out: Path | None) -> str:
    """Write `fmt` for the samples of the run under `store`, into the local folder `out`
    or, without one, into `exports/<fmt>/` beside the run; returns the data file.

    Media paths in the export are absolute: into the run's root when it is a local folder
    (or `out` is not given), and into `out` when the root is remote, since trainers read
    local files: the media are then copied down under `out` (resumably)."""
    if fmt not in CONSUMER:
        raise ExportError(f"unknown export format {fmt!r}; use one of {sorted(CONSUMER)}")
    shards = committed_files(store, "materialize", RUN.dataset)
    counted = set(_column(store, shards, "token_profile"))
    families = {p.split(":")[1] for p in counted}
    for family in sorted(families):
        reason = UNSUPPORTED.get((CONSUMER[fmt], family))
        if reason:
            raise ExportError(
                f"{fmt} reads these {family} samples through {CONSUMER[fmt]}, which vidcurate cannot count exactly "
                f"for {family} ({reason}); train on dataset/ with transformers' processor, as trainer_args.json says"
            )
    profiles = {p.split(":")[0] for p in counted}
    if profiles - {CONSUMER[fmt]}:
        timed = CONSUMER[fmt] in CLIP_TIMED and "qwen3-vl" in families
        clip_timed = " --set tokens.timestamp_origin=clip" if timed else ""
        raise ExportError(
            f"{fmt} reads counts made for the {CONSUMER[fmt]} profile but these samples were counted for "
            f"{sorted(profiles)}; rerun the job with --set tokens.consumer={CONSUMER[fmt]}{clip_timed} --replace "
            "(passes 1 and 2 are reused)"
        )
    target = Store(str(out)) if out is not None else Store(store.uri(f"exports/{fmt}"), store.options)
    root = store.uri()
    if out is not None and store.remote:
        store.download(store.files(RUN.media), str(out))
        root = target.uri()
    if fmt == "qwen-vl-finetune":
        name = f"{DATASET_NAME}_qwen_vl_finetune.json"
        _write_json_array(target, name, (qwen_vl_finetune(s, root) for s in _samples(store, shards)))
        return target.uri(name)
    name = f"{DATASET_NAME}.jsonl"
    _write_jsonl(target, name, (sharegpt(s, root) for s in _samples(store, shards)))
    if fmt == "llamafactory":
        info = dataset_info(any(_column(store, shards, "images")))
        info[DATASET_NAME]["file_name"] = name
        target.write_text("dataset_info.json", json.dumps(info, ensure_ascii=False, indent=1))
    return target.uri(name)


def sharegpt(sample: dict, root: str) -> dict:
    """LLaMA-Factory and ms-swift: messages with <video>/<image>, media as absolute paths
    (a video is its frame files, or its mp4 when only clips were written)."""
    frames = [[posixpath.join(root, f) for f in video] for video in sample["videos"]]
    videos: list[list[str]] | list[str] = frames or [posixpath.join(root, c) for c in sample["video_clips"]]
    entry = {
        "messages": sample["messages"],
        "videos": videos,
        "images": [posixpath.join(root, i) for i in sample["images"]],
    }
    return {k: v for k, v in entry.items() if v or k == "messages"}


def qwen_vl_finetune(sample: dict, root: str) -> dict:
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
        entry["video"] = posixpath.join(root, sample["video_clips"][0])
    if sample["images"]:
        images = [posixpath.join(root, i) for i in sample["images"]]
        entry["image"] = images[0] if len(images) == 1 else images
    return entry


def _samples(store: Store, shards: list[str]) -> Iterator[dict]:
    """Samples one shard at a time, so an export of millions holds one shard in memory."""
    columns = ["id", "messages", "videos", "video_clips", "images", "total_tokens", "token_profile"]
    for shard in shards:
        yield from store.dataset([shard], DATASET).to_table(columns=columns).to_pylist()


def _column(store: Store, shards: list[str], name: str) -> Iterator:
    for shard in shards:
        yield from store.dataset([shard], DATASET).to_table(columns=[name]).column(name).to_pylist()


def _write_jsonl(target: Store, name: str, rows: Iterable[dict]) -> None:
    with target.open_write(name) as f:
        for row in rows:
            f.write((json.dumps(row, ensure_ascii=False) + "\n").encode())


def _write_json_array(target: Store, name: str, rows: Iterable[dict]) -> None:
    """A JSON array written element by element."""
    with target.open_write(name) as f:
        f.write(b"[")
        for i, row in enumerate(rows):
            f.write((("," if i else "") + "\n" + json.dumps(row, ensure_ascii=False)).encode())
        f.write(b"\n]\n")
