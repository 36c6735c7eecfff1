"""TransNetV2 as `split.detector`: fed the pass's own thumbnails, streamed in the model's
windows with the package's exact predictions, its transitions trimmed from both shots, and
none of the package's global side effects left in the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from local_inputs import access
from media_files import clip, dissolve
from offline_runs import OFFLINE

from cluster.models import transnet
from cluster.stages.segment_stage import SegmentVideo
from cluster.video.cuts import CutParams
from cluster.video.decode import iter_analysis_frames, rgb_thumbnails
from cluster.video.shots import SplitSettings
from cluster.video.synth import write_video
from jobs.config import parse_config
from jobs.segment import run as run_segment

REPO = Path(__file__).resolve().parents[2]
FPS = 25


@pytest.fixture(scope="module")
def edited(shared_videos, tmp_path_factory) -> Path:
    """Real footage: 3 s of one shot, a hard cut at frame 75, 3 s of another that dissolves
    over 25 frames (125..149) into a third."""
    a = clip(shared_videos / "chaplin.mp4", 1.0, 75)
    b = clip(shared_videos / "example.mp4", 2.0, 75)
    c = clip(shared_videos / "testvideo.mp4", 8.0, 75)
    return write_video(tmp_path_factory.mktemp("edited") / "edited.mp4", iter(a + dissolve(b, c, 25)), FPS, crf=23)


def test_rgb_thumbnails_keep_the_frames_colours(tmp_path):
    colours = [(230, 20, 20), (20, 200, 40), (30, 40, 220), (128, 128, 128)]
    frames = [np.full((180, 320, 3), c, np.uint8) for c in colours for _ in range(5)]
    path = write_video(tmp_path / "colours.mp4", iter(frames), FPS, crf=10)
    rgb = np.concatenate([rgb_thumbnails(b) for b in iter_analysis_frames(str(path))])
    assert rgb.shape == (20, 27, 48, 3) and rgb.dtype == np.uint8
    for k, colour in enumerate(colours):
        assert np.abs(rgb[5 * k : 5 * k + 5].reshape(-1, 3).mean(0) - colour).max() < 8, colour


def test_streamed_windows_give_the_packages_whole_video_predictions():
    frames = np.random.default_rng(1).integers(0, 255, (237, 27, 48, 3), dtype=np.uint8)
    model = transnet.load("cpu")
    centres, inside = model.predict_frames(torch.from_numpy(frames), quiet=True)
    stream = transnet.TransitionStream(model)
    position = 0
    for size in (1, 60, 100, 3, 73):
        stream.push(frames[position : position + size])
        position += size
    streamed = stream.finish()
    np.testing.assert_array_equal(streamed[0], centres.numpy())
    np.testing.assert_array_equal(streamed[1], inside.numpy())


def test_loading_the_model_leaves_the_process_as_it_was():
    """The package seeds torch, numpy and random, turns on deterministic algorithms and sets an
    environment variable; its wheel installs a top-level `tests` folder. None of it leaks."""
    script = """
import json, os, random, sys
import numpy as np, torch
def draws():
    torch.manual_seed(7); np.random.seed(7); random.seed(7)
    return [torch.rand(1).item(), float(np.random.rand()), random.random()]
expected = draws()
torch.manual_seed(7); np.random.seed(7); random.seed(7)
from cluster.models import transnet
transnet.load("cpu")
import tests.media_files
print(json.dumps({
    "draws": [torch.rand(1).item(), float(np.random.rand()), random.random()], "expected": expected,
    "deterministic": torch.are_deterministic_algorithms_enabled(),
    "cudnn": [torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark],
    "mps_env": os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK"),
    "media_files": tests.media_files.__file__,
}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads(done.stdout.splitlines()[-1])
    assert state["draws"] == state["expected"]
    assert state["deterministic"] is False and state["cudnn"] == [False, False]
    assert state["mps_env"] is None
    assert Path(state["media_files"]) == REPO / "tests" / "media_files.py"


def test_a_dissolve_is_trimmed_from_both_shots_in_the_decoder_process(edited):
    settings = SplitSettings("scenes", 1.0, 20.0, 2.0, CutParams(), detector="transnetv2")
    rows = SegmentVideo(settings, access())({"uri": str(edited), "input_index": 0})
    spans = [(r["start_frame"], r["end_frame"], r["reason"], r["scene_index"]) for r in rows]
    assert [s[0] for s in spans] == [0, 75, spans[2][0], spans[3][0]] and spans[-1][1] == 200
    (transition,) = [s for s in spans if s[2] == "transition"]
    assert transition[3] is None and transition[0] <= 129 and transition[1] >= 146
    assert [s[3] for s in spans if s[2] is None] == [0, 1, 2]


def test_the_segment_job_splits_with_transnet_on_ray(ray_head, edited, tmp_path):
    cfg = parse_config(
        {
            "input": {"manifest": str(edited.parent)},
            "output": {"root": str(tmp_path / "out")},
            "split": {"detector": "transnetv2", "min_seconds": 1.0},
            **OFFLINE,
        }
    )
    run_segment(cfg)
    rows = sorted(pq.read_table(tmp_path / "out" / "candidates").to_pylist(), key=lambda r: r["start_frame"])
    assert [r["start_frame"] for r in rows][:2] == [0, 75]
    assert [r["reason"] for r in rows].count("transition") == 1
    assert sum(r["end_frame"] - r["start_frame"] for r in rows) == 200
