"""Pass 1, segment: manifest → probe → split → `candidates/` (one row per segment)."""

from __future__ import annotations

import logging
from pathlib import Path

import ray

from cluster.sink import ShardWriter
from cluster.stages.segment_stage import SegmentVideo, SplitSettings
from cluster.video.cuts import CutParams
from schemas.tables import CANDIDATES

log = logging.getLogger(__name__)

# One video per block: a slow or failing video never holds its neighbours back.
MAX_BLOCKS = 100_000


def run_segment_pass(cfg, manifest: list[dict], out_root: Path) -> int:
    s = cfg.split
    settings = SplitSettings(
        mode=s.mode,
        min_seconds=s.min_seconds,
        max_seconds=s.max_seconds,
        cut_params=CutParams(min_score=s.cut_min_score, ratio=s.cut_ratio, min_scene_frames=s.min_scene_frames),
    )
    writer = ShardWriter(out_root / "candidates", CANDIDATES, cfg.output.rows_per_shard)
    if manifest:
        ds = ray.data.from_items(manifest, override_num_blocks=min(len(manifest), MAX_BLOCKS))
        ds = ds.flat_map(_conformed(SegmentVideo(settings)), num_cpus=1)
        for row in ds.iter_rows():
            writer.add(row)
    rows = writer.close()
    log.info("segment pass: %d inputs -> %d candidate rows", len(manifest), rows)
    return rows


def _conformed(stage):
    """Every output row carries every column, so all blocks share one schema."""

    def run(row: dict) -> list[dict]:
        return [{name: out.get(name) for name in CANDIDATES.names} for out in stage(row)]

    return run
