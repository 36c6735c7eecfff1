"""Thresholds: the first filter each candidate fails, computed over whole Arrow tables.

Rows that failed before pass 2 keep their reason (`error:<stage>`, or the pass-1 filter
reason); an ok row is checked against aspect ratio, redundancy (static shots), aesthetic
score and CLIP similarity, in that order. A missing score never fails its filter (the
similarity is null for a video without text).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

COLUMNS = [
    "segment_id",
    "status",
    "reason",
    "stage",
    "display_aspect_ratio",
    "redundancy",
    "aesthetic",
    "clip_similarity",
]


def threshold_reasons(table: pa.Table, filters) -> pa.Array:
    """Per row of `table` (at least COLUMNS): the first threshold it fails, or null."""
    checks = [
        ("aspect_ratio", "display_aspect_ratio", filters.min_aspect_ratio, filters.max_aspect_ratio),
        ("static", "redundancy", None, filters.max_redundancy),
        ("low_aesthetic", "aesthetic", filters.min_aesthetic, None),
        ("low_clip_similarity", "clip_similarity", filters.min_clip_similarity, None),
    ]
    reason = pa.nulls(table.num_rows, pa.string())
    for name, column, low, high in reversed(checks):  # the first failing check is applied last
        values = table.column(column)
        fails = pa.array(np.zeros(table.num_rows, bool))
        if low is not None:
            fails = pc.or_(fails, pc.fill_null(pc.less(values, low), False))
        if high is not None:
            fails = pc.or_(fails, pc.fill_null(pc.greater(values, high), False))
        reason = pc.if_else(fails, pa.scalar(name), reason)
    status = table.column("status")
    errored = pc.binary_join_element_wise("error:", pc.fill_null(table.column("stage"), ""), "")
    reason = pc.if_else(pc.equal(status, "filtered"), table.column("reason"), reason)
    return pc.if_else(pc.equal(status, "error"), errored, reason).combine_chunks()


def eligible(table: pa.Table, filters) -> pa.Table:
    """Rows that pass every threshold and carry an embedding: the ones to cluster."""
    passes = pc.and_(pc.is_null(threshold_reasons(table, filters)), pc.is_valid(table.column("embedding")))
    return table.filter(passes)
