"""Pass 2, select: apply the thresholds to `candidates/` and write `selection/` with
keep/drop and the first failing reason. Touches no video, so new thresholds take seconds."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pyarrow.dataset as pads

from cluster.sink import ShardWriter
from schemas.tables import CANDIDATES, SELECTION

log = logging.getLogger(__name__)

COLUMNS = ["video_id", "segment_id", "status", "reason", "stage", "display_aspect_ratio", "redundancy", "aesthetic", "clip_similarity"]


def decide(row: dict, filters) -> str | None:
    """The first reason a candidate is not kept, or None. A missing score never fails a
    filter (e.g. similarity is null for videos without text)."""
    if row["status"] == "error":
        return f"error:{row['stage']}"
    if row["status"] == "filtered":
        return row["reason"]
    checks = [
        ("aspect_ratio", row["display_aspect_ratio"], filters.min_aspect_ratio, filters.max_aspect_ratio),
        ("static", row["redundancy"], None, filters.max_redundancy),
        ("low_aesthetic", row["aesthetic"], filters.min_aesthetic, None),
        ("low_clip_similarity", row["clip_similarity"], filters.min_clip_similarity, None),
    ]
    for reason, value, low, high in checks:
        if value is None:
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            return reason
    return None


def run_select_pass(cfg, out_root: Path) -> Counter:
    candidates = pads.dataset(out_root / "candidates", schema=CANDIDATES, format="parquet")
    writer = ShardWriter(out_root / "selection", SELECTION, cfg.output.rows_per_shard)
    outcomes: Counter = Counter()
    for batch in candidates.to_batches(columns=COLUMNS):
        for row in batch.to_pylist():
            reason = decide(row, cfg.filters)
            outcomes[reason or "kept"] += 1
            writer.add({"video_id": row["video_id"], "segment_id": row["segment_id"], "keep": reason is None, "drop_reason": reason})
    writer.close()
    log.info("select pass: %s", dict(outcomes))
    return outcomes
