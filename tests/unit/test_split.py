"""Splitting a frame timeline into segments, and the bounds on the work one input can cause."""

import numpy as np
import pytest

from cluster.video.cuts import Boundary, CutParams
from cluster.video.decode import FrameLog
from cluster.video.probe import VideoProbe
from cluster.video.shots import (
    SplitSettings,
    WorkLimitExceeded,
    WorkLimits,
    damage_boundaries,
    damaged_frames,
    segments_of,
)
from cluster.video.split import JUMP, split_timeline


def test_split_chops_long_scenes_and_marks_short_ones():
    timestamps = np.arange(1000) / 25.0  # 40 s
    segments = split_timeline(
        timestamps, 0.04, [Boundary(500, 500, "cut"), Boundary(525, 525, "cut")], min_seconds=2.0, max_seconds=8.0
    )
    kept = [s for s in segments if s.filtered_reason is None]
    assert [s.filtered_reason for s in segments].count("too_short") == 1
    assert all(s.duration_s <= 8.0 + 1e-9 for s in segments)
    assert sum(s.end_frame - s.start_frame for s in segments) == 1000  # nothing lost between pieces
    assert {s.scene_index for s in kept} == {0, 2}
    assert segments[-1].end_s == pytest.approx(40.0)


def _probe(timestamps: np.ndarray, jumps: tuple[int, ...] = ()) -> VideoProbe:
    step = float(np.median(np.diff(timestamps)))
    duration = float(timestamps[-1] - timestamps[0]) + step
    duration -= sum(float(timestamps[j] - timestamps[j - 1]) - step for j in jumps)
    return VideoProbe(
        len(timestamps), duration, len(timestamps) / duration, 64, 48, (1, 1), 0, 64, 48, "h264", False, 0.0,
        "decord", timestamps, step, jumps,
    )  # fmt: skip


def test_a_timestamp_jump_cuts_the_video_instead_of_becoming_days_of_segments():
    """One frame stamped a million seconds late: two short pieces, not 100,001 segments."""
    timestamps = np.append(np.arange(24) * 0.04, 1e6)
    settings = SplitSettings("fixed", 0.5, 10.0, 2.0, CutParams())
    segments = segments_of("jump.mkv", _probe(timestamps, jumps=(24,)), settings)
    assert [(s.start_frame, s.end_frame) for s in segments] == [(0, 24), (24, 25)]
    assert segments[0].duration_s == pytest.approx(0.96) and segments[1].duration_s == pytest.approx(0.04)
    assert all(s.duration_s < 1 for s in segments)


def test_jumps_are_cuts_that_no_segment_spans():
    timestamps = np.concatenate([np.arange(250) * 0.04, 500 + np.arange(250) * 0.04])
    segments = split_timeline(timestamps, 0.04, [Boundary(250, 250, JUMP)], 1.0, 4.0)
    assert all(s.end_frame <= 250 or s.start_frame >= 250 for s in segments)
    assert sum(s.duration_s for s in segments) == pytest.approx(20.0)


def test_work_past_the_limits_is_an_error_naming_the_key_to_raise():
    timestamps = np.arange(3000) * 0.04
    few_frames = SplitSettings("fixed", 0.5, 10.0, 2.0, CutParams(), WorkLimits(max_frames=1000))
    with pytest.raises(WorkLimitExceeded, match=r"3000 frames, over limits\.max_frames_per_input=1000"):
        segments_of("long.mp4", _probe(timestamps), few_frames)
    few_segments = SplitSettings("fixed", 0.5, 1.0, 2.0, CutParams(), WorkLimits(max_segments=50))
    with pytest.raises(WorkLimitExceeded, match=r"120 segments, over limits\.max_segments_per_input=50"):
        segments_of("long.mp4", _probe(timestamps), few_segments)


def test_frames_that_did_not_decode_or_came_out_damaged_are_counted_per_frame():
    probe = _probe(np.arange(10) * 0.04)
    decoded = FrameLog([0.0, 0.04, 0.08, 0.2, 0.24], [False, False, True, False, False])
    assert damaged_frames(decoded, probe).tolist() == [0, 0, 1, 1, 1, 0, 0, 1, 1, 1]
    counted = FrameLog([None] * 4, [False, True, False, False])  # a raw stream: no timestamps
    assert damaged_frames(counted, probe).tolist() == [0, 1, 0, 0, 1, 1, 1, 1, 1, 1]


def test_a_stretch_of_damage_is_cut_out_and_a_brief_glitch_stays_in_its_shot():
    damaged = np.zeros(300, bool)
    damaged[100] = True  # one concealed frame
    damaged[150:190] = True
    damaged[193:200] = True  # joined across a gap shorter than min_frames
    damaged[250:255] = True  # too brief to cut out
    assert damage_boundaries(damaged, 8) == [Boundary(150, 200, "corrupt_frames")]
