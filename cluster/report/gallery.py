"""The report's gallery: a few samples, one cluster after another, each with a keyframe
thumbnail taken from the media the trainer reads and the answer the trainer is taught."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import av
import pyarrow.dataset as pads
from PIL import Image

from cluster.store import Store

THUMB_SIZE = (320, 320)
PICK_COLUMNS = ["id", "cluster_id"]
SHOW_COLUMNS = [
    "id",
    "sample_kind",
    "videos",
    "video_clips",
    "images",
    "messages",
    "caption_status",
    "cluster_id",
    "segment_start_s",
    "segment_end_s",
    "total_tokens",
]


@dataclass(frozen=True)
class Tile:
    sample_id: str
    thumbnail: str  # relative to the report folder
    answer: str
    caption_status: str
    cluster_id: int | None
    span: str
    tokens: int


def pick(dataset: pads.Dataset, count: int) -> list[str]:
    """Sample ids taken round-robin over clusters (in id order within each), so the gallery
    shows the variety of the data rather than its largest cluster."""
    by_cluster: dict[int | None, list[str]] = defaultdict(list)
    for row in dataset.to_table(columns=PICK_COLUMNS).to_pylist():
        by_cluster[row["cluster_id"]].append(row["id"])
    queues = [sorted(ids) for _, ids in sorted(by_cluster.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]
    chosen: list[str] = []
    depth = 0
    while len(chosen) < count and any(depth < len(q) for q in queues):
        chosen += [q[depth] for q in queues if depth < len(q)][: count - len(chosen)]
        depth += 1
    return chosen


def build_gallery(store: Store, dataset: pads.Dataset, folder: Path, count: int) -> list[Tile]:
    """Thumbnails of `count` samples of `dataset` into the local `folder`."""
    ids = pick(dataset, count)
    if not ids:
        return []
    rows = dataset.to_table(columns=SHOW_COLUMNS, filter=pads.field("id").isin(ids)).to_pylist()
    order = {sample_id: i for i, sample_id in enumerate(ids)}
    folder.mkdir(parents=True, exist_ok=True)
    return [_tile(store, folder, row) for row in sorted(rows, key=lambda r: order[r["id"]])]


def _tile(store: Store, folder: Path, row: dict) -> Tile:
    thumbnail = folder / f"{row['id']}.jpg"
    image = _keyframe(store, row)
    image.thumbnail(THUMB_SIZE)
    image.save(thumbnail, quality=85)
    answer = next((m["content"] for m in row["messages"] if m["role"] == "assistant"), "")
    return Tile(
        sample_id=row["id"],
        thumbnail=f"{folder.name}/{thumbnail.name}",
        answer=answer,
        caption_status=row["caption_status"],
        cluster_id=row["cluster_id"],
        span=f"{row['segment_start_s']:.1f}–{row['segment_end_s']:.1f} s",
        tokens=row["total_tokens"],
    )


def _keyframe(store: Store, row: dict) -> Image.Image:
    """The middle frame of the sample's first video, or its first image."""
    if row["videos"]:
        frames = row["videos"][0]
        return Image.open(io.BytesIO(store.read_bytes(frames[len(frames) // 2]))).convert("RGB")
    if row["video_clips"]:
        with av.open(io.BytesIO(store.read_bytes(row["video_clips"][0])), "r") as clip:
            return next(clip.decode(video=0)).to_image()
    return Image.open(io.BytesIO(store.read_bytes(row["images"][0]))).convert("RGB")
