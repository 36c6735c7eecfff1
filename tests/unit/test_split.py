"""Probing real and generated videos, cut detection and splitting."""

import numpy as np

from cluster.video.cuts import Boundary
from cluster.video.split import split_timeline


def test_split_chops_long_scenes_and_marks_short_ones():
    timestamps = np.arange(1000) / 25.0  # 40 s
    segments = split_timeline(
        timestamps, 40.0, [Boundary(500, 500, "cut"), Boundary(525, 525, "cut")], min_seconds=2.0, max_seconds=8.0
    )
    kept = [s for s in segments if s.filtered_reason is None]
    assert [s.filtered_reason for s in segments].count("too_short") == 1
    assert all(s.duration_s <= 8.0 + 1e-9 for s in segments)
    assert sum(s.end_frame - s.start_frame for s in segments) == 1000  # nothing lost between pieces
    assert {s.scene_index for s in kept} == {0, 2}
