"""Pass 2, select: decide keep/drop for every candidate. Touches no video, so it can be
re-run with new thresholds in seconds."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.dataset as pads

from cluster.sink import ShardWriter
from schemas.tables import CANDIDATES, SELECTION

log = logging.getLogger(__name__)


def decide(row: dict) -> tuple[bool, str | None]:
    """The first reason a candidate is not kept, or (True, None)."""
    if row["status"] == "error":
        return False, f"error:{row['stage']}"
    if row["status"] == "filtered":
        return False, row["reason"]
    return True, None


def run_select_pass(cfg, out_root: Path) -> int:
    candidates = pads.dataset(out_root / "candidates", schema=CANDIDATES, format="parquet")
    writer = ShardWriter(out_root / "selection", SELECTION, cfg.output.rows_per_shard)
    for batch in candidates.to_batches(columns=["video_id", "segment_id", "status", "reason", "stage"]):
        for row in batch.to_pylist():
            keep, reason = decide(row)
            writer.add({"video_id": row["video_id"], "segment_id": row["segment_id"], "keep": keep, "drop_reason": reason})
    rows = writer.close()
    log.info("select pass: %d decisions", rows)
    return rows
