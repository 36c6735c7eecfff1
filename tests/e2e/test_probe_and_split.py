"""Probing real and generated videos, cut detection and splitting."""

from fractions import Fraction

import av
import numpy as np
import pytest
from media_files import remux_elementary, write_with_pts

from cluster.video import scan
from cluster.video.cuts import STAT_FIELDS, CutParams, detect_boundaries, frame_stats
from cluster.video.decode import (
    FrameLog,
    FramesMissing,
    SeekMissed,
    iter_analysis_frames,
    keyframe_splits,
    read_frames_at,
)
from cluster.video.probe import ProbeError, probe_video
from cluster.video.scan import MIN_STRETCH_SECONDS, scene_stats
from cluster.video.synth import scene_frames, write_scene_video, write_video


def _decoded_frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_probe_counts_every_frame_of_the_shared_videos(shared_videos):
    for path in sorted(shared_videos.iterdir()):
        probe = probe_video(str(path))
        assert probe.num_frames == _decoded_frames(path), path.name
        assert probe.duration == pytest.approx(probe.num_frames / probe.avg_fps)
        assert len(probe.timestamps) == probe.num_frames and np.all(np.diff(probe.timestamps) > 0)


def test_probe_reads_codec_and_audio(shared_videos):
    webm = probe_video(str(shared_videos / "big_buck_bunny_0_30.webm"))
    assert (webm.codec, webm.has_audio) == ("vp8", True)
    assert probe_video(str(shared_videos / "fades.mp4")).codec == "mpeg4"


def test_display_size_applies_sample_aspect_ratio(tmp_path):
    path = write_video(
        tmp_path / "pal.mp4", scene_frames(704, 576, 25, [0.4]), 25, sample_aspect_ratio=Fraction(16, 11)
    )
    probe = probe_video(str(path))
    assert (probe.coded_width, probe.coded_height) == (704, 576)
    assert (probe.display_width, probe.display_height) == (1024, 576)


@pytest.mark.parametrize("rotation,display", [(90, (240, 320)), (-90, (240, 320)), (180, (320, 240))])
def test_rotation_from_the_display_matrix(tmp_path, rotation, display):
    path = write_video(tmp_path / "phone.mp4", scene_frames(320, 240, 25, [0.4]), 25, rotation=rotation)
    probe = probe_video(str(path))
    assert (probe.display_width, probe.display_height) == display
    (frame,) = read_frames_at(str(path), [0.0], probe.start_time, probe.rotation, (display[1], display[0]))
    assert frame.shape[:2] == (display[1], display[0])


def test_container_without_duration_falls_back_to_pyav(tmp_path):
    mp4 = write_video(tmp_path / "a.mp4", scene_frames(160, 120, 25, [2.0]), 25)
    probe = probe_video(str(remux_elementary(mp4, tmp_path / "a.h264")))
    assert probe.backend == "pyav" and probe.num_frames == 50


def test_non_zero_start_time_is_reported_and_frames_align(tmp_path):
    frames = (np.full((120, 160, 3), i * 12, np.uint8) for i in range(20))
    path = write_with_pts(tmp_path / "offset.mp4", frames, range(50, 70), Fraction(1, 25))
    probe = probe_video(str(path))
    assert probe.start_time == pytest.approx(2.0) and probe.timestamps[0] == pytest.approx(0.0)
    (frame,) = read_frames_at(str(path), [probe.timestamps[10]], probe.start_time, 0, (120, 160))
    assert abs(int(frame.mean()) - 120) < 8


def test_a_file_whose_frames_all_fail_to_decode_is_an_input_error_naming_it(tmp_path):
    path = tmp_path / "blanked.mp4"
    write_scene_video(path, [1.0], width=160, height=120, fps=25)
    data = bytearray(path.read_bytes())
    start, end = data.index(b"mdat") + 4, data.index(b"moov") - 4
    data[start:end] = bytes(end - start)  # the index survives, every coded frame is zeros
    path.write_bytes(data)
    with pytest.raises(FramesMissing, match=r"blanked\.mp4: decoded no frame at or after 0\.500s"):
        read_frames_at(str(path), [0.5], 0.0, 0, (120, 160))


@pytest.mark.parametrize("content", [b"", b"hello, not a video\n", bytes(range(256)) * 64])
def test_unreadable_files_raise_a_probe_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(ProbeError, match=r"bad.mp4"):
        probe_video(str(path))


PARAMS = CutParams()


def _cuts(stats) -> list[int]:
    boundaries = detect_boundaries(stats)
    assert {b.kind for b in boundaries} <= {"cut"}
    return [b.start for b in boundaries]


def _assert_same_stats(parallel, sequential) -> None:
    for name in STAT_FIELDS:
        np.testing.assert_array_equal(getattr(parallel, name), getattr(sequential, name))


def test_cuts_are_found_at_the_planted_frames(tmp_path):
    path, planted = write_scene_video(tmp_path / "cuts.mp4", [3, 1.5, 6, 0.8, 4], seed=3)
    assert _cuts(frame_stats(iter_analysis_frames(str(path)))) == planted


def test_a_continuous_shot_has_no_cut(shared_videos):
    assert detect_boundaries(frame_stats(iter_analysis_frames(str(shared_videos / "chaplin.mp4")))) == []


def _assert_parallel_pass_is_sequential(path, workers: int = 4) -> None:
    assert keyframe_splits(str(path), workers, MIN_STRETCH_SECONDS), "the file was not split; the test checks nothing"
    sequential_log, parallel_log = FrameLog(), FrameLog()
    sequential = frame_stats(iter_analysis_frames(str(path), sequential_log))
    _assert_same_stats(scene_stats(str(path), PARAMS, parallel_log, workers=workers), sequential)
    assert parallel_log == sequential_log


def test_the_thumbnail_pass_split_across_decoders_gives_the_sequential_scores(tmp_path):
    """Decoding keyframe-to-keyframe stretches in parallel must not move, add or lose a cut:
    every frame, its time and its score (the ones across stretch boundaries included) are
    those of one pass over the file."""
    path, planted = write_scene_video(tmp_path / "long.mp4", [9, 4, 12, 3, 10], seed=5)
    _assert_parallel_pass_is_sequential(path)
    assert _cuts(scene_stats(str(path), PARAMS, workers=4)) == planted


def test_the_split_thumbnail_pass_matches_on_real_files(shared_videos):
    for name in ("big_buck_bunny_0_30.webm", "testvideo.mp4"):  # VP8 in WebM, H.264 with B-frames
        _assert_parallel_pass_is_sequential(shared_videos / name)


def test_a_seek_that_misses_its_keyframe_falls_back_to_one_pass(tmp_path, monkeypatch):
    """A demuxer whose seek does not land on the keyframe asked for would lose the frames
    between; the pass notices and reads the file in one go instead."""
    path, _planted = write_scene_video(tmp_path / "long.mp4", [9, 4, 12, 3, 10], seed=5)
    (split,) = keyframe_splits(str(path), 2, MIN_STRETCH_SECONDS)
    monkeypatch.setattr(scan, "keyframe_splits", lambda *_: [split + 1])  # one tick past the keyframe
    with pytest.raises(SeekMissed, match=r"long.mp4"):
        list(iter_analysis_frames(str(path), span=(split + 1, None)))
    decoded = FrameLog()
    _assert_same_stats(
        scan.scene_stats(str(path), PARAMS, decoded, workers=2), frame_stats(iter_analysis_frames(str(path)))
    )
    assert len(decoded.times) == _decoded_frames(path)


def test_a_stream_that_cannot_seek_is_read_in_one_pass(tmp_path):
    mp4, planted = write_scene_video(tmp_path / "a.mp4", [10, 10], seed=2)
    raw = remux_elementary(mp4, tmp_path / "a.h264")
    assert keyframe_splits(str(raw), 4, MIN_STRETCH_SECONDS) == []
    assert _cuts(scene_stats(str(raw), PARAMS, workers=4)) == planted
