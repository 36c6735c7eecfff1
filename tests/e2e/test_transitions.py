"""Shot boundaries in edited footage: dissolves and fades through black or white are
boundaries whose frames belong to no shot, flashes and pans are not boundaries, and flat
footage ends as blank segments."""

from __future__ import annotations

import numpy as np
import pytest
from local_inputs import access
from media_files import clip, dissolve, fade_through, flash

from cluster.stages.segment_stage import SegmentVideo
from cluster.video.cuts import Boundary, CutParams, detect_boundaries, frame_stats
from cluster.video.decode import iter_analysis_frames
from cluster.video.guard import GuardSettings
from cluster.video.shots import SplitSettings
from cluster.video.synth import write_video

FPS = 25


@pytest.fixture(scope="module")
def shots(shared_videos):
    """Three cut-free 3 s shots of real footage."""
    return [
        clip(shared_videos / "chaplin.mp4", 1.0, 75),
        clip(shared_videos / "example.mp4", 2.0, 75),
        clip(shared_videos / "testvideo.mp4", 8.0, 75),
    ]


def _boundaries(tmp_path, frames, name="v.mp4") -> list[Boundary]:
    path = write_video(tmp_path / name, iter(frames), FPS, crf=23)
    return detect_boundaries(frame_stats(iter_analysis_frames(str(path))))


def _segments(tmp_path, frames, **split) -> list[dict]:
    path = write_video(tmp_path / "v.mp4", iter(frames), FPS, crf=23)
    settings = SplitSettings("scenes", split.get("min_seconds", 1.0), 20.0, 2.0, CutParams())
    return SegmentVideo(settings, access(GuardSettings(isolate=False)))({"uri": str(path), "input_index": 0})


@pytest.mark.parametrize("level", [0, 255])
def test_a_fade_through_black_or_white_is_one_boundary_covering_its_ramps(tmp_path, shots, level):
    a, b, _ = shots
    frames = fade_through(a, b, ramp=12, hold=4, level=level)
    (boundary,) = _boundaries(tmp_path, frames)
    assert boundary.kind == "fade"
    # the flat frames 75..78 and most of both ramps (63..74, 79..90) are inside it
    assert boundary.start <= 66 and boundary.end >= 88
    assert boundary.start >= 55 and boundary.end <= 96


def test_a_fade_with_no_flat_hold_is_found(tmp_path, shots):
    a, b, _ = shots
    (boundary,) = _boundaries(tmp_path, fade_through(a, b, ramp=15, hold=0))
    assert boundary.kind == "fade" and boundary.start <= 70 <= boundary.end


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_flashes_that_return_to_the_same_shot_are_not_cuts(tmp_path, shots, length):
    frames = []
    for k, shot in enumerate(shots):
        frames += flash(flash(shot, 20, length), 50, length, strength=0.6 + 0.1 * k)
    boundaries = _boundaries(tmp_path, frames)
    assert [(b.start, b.kind) for b in boundaries] == [(75, "cut"), (150, "cut")]


@pytest.mark.parametrize("frames", [8, 12, 18, 25])
def test_a_cross_dissolve_is_one_boundary_over_its_frames(tmp_path, shots, frames):
    a, b, _ = shots
    (boundary,) = _boundaries(tmp_path, dissolve(a, b, frames))
    start, end = len(a) - frames, len(a)
    assert boundary.kind == "dissolve"
    assert abs(boundary.start - start) <= 4 and abs(boundary.end - end) <= 4


def test_pans_and_exposure_changes_are_not_boundaries(tmp_path, shared_videos):
    wide = clip(shared_videos / "example.mp4", 2.0, 1, size=(180, 1600))[0]
    pan = [wide[:, x : x + 320] for x in range(0, 1280, 16)] + [wide[:, x : x + 320] for x in range(1280, 0, -32)]
    assert _boundaries(tmp_path, pan) == []
    darkening = [np.uint8(f * (1 - 0.4 * i / 50)) for i, f in enumerate(clip(shared_videos / "chaplin.mp4", 1.0, 50))]
    assert _boundaries(tmp_path, darkening, "darkening.mp4") == []


def test_fade_frames_are_filtered_segments_and_the_shots_beside_them_keep_theirs(tmp_path, shots):
    a, b, c = shots
    rows = _segments(tmp_path, fade_through(a, b, ramp=12, hold=4) + c)
    assert [r["reason"] for r in rows] == [None, "fade", None, None]
    fade = rows[1]
    assert fade["status"] == "filtered" and fade["scene_index"] is None
    assert [r["scene_index"] for r in rows if r["status"] == "ok"] == [0, 1, 2]
    assert rows[0]["end_frame"] == fade["start_frame"] and fade["end_frame"] == rows[2]["start_frame"]
    assert rows[-1]["end_frame"] == len(a) + 4 + len(b) + len(c)  # every frame is in one segment


def test_a_mostly_black_video_yields_blank_segments_not_an_error(tmp_path, shots):
    black = [np.zeros_like(shots[0][0])] * (10 * FPS)
    rows = _segments(tmp_path, shots[0][:40] + black + shots[1][:40], min_seconds=2.0)
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("filtered", "too_short"),
        ("filtered", "blank"),
        ("filtered", "too_short"),
    ]
    assert rows[1]["start_frame"] == 40 and rows[1]["end_frame"] == 40 + 10 * FPS


def test_a_slideshow_that_fades_in_and_out_gives_one_segment_per_slide(tmp_path, shots):
    slides = [[shot[10]] * 50 for shot in shots]
    frames = fade_through(fade_through(slides[0], slides[1], ramp=10, hold=3), slides[2], ramp=10, hold=3)
    rows = _segments(tmp_path, frames)
    assert [r["reason"] for r in rows] == [None, "fade", None, "fade", None]
    assert all(r["status"] == "ok" for r in rows[::2])


def test_a_video_of_only_flat_frames_is_one_blank_segment(shared_videos):
    settings = SplitSettings("scenes", 1.0, 20.0, 2.0, CutParams())
    rows = SegmentVideo(settings, access(GuardSettings(isolate=False)))(
        {"uri": str(shared_videos / "fades.mp4"), "input_index": 0}
    )
    assert [(r["status"], r["reason"]) for r in rows] == [("filtered", "blank")]
