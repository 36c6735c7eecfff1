"""The real LLaMA-Factory, handed a run's samples as its trainer would, builds exactly the
stored counts: pads per video and image, grids, Qwen3-VL's timestamp texts, and the whole
input_ids length. It pins transformers <= 5.6, so it runs in its own environment
(tests/llamafactory/build_env.sh, which .ci/run builds), on model folders read through
tokens.model: a Qwen2.5-VL one whose processor configs hold transformers' class defaults
(video min 100,352 pixels, not the Hub's 3,136), and a Qwen3-VL one with its real tokenizer;
and it trains two steps on a run with trainer_args.json's block as it is."""

import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from offline_runs import run_offline
from qwen3_tokenizer import qwen3_tokenizer_dir
from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor, Qwen3VLVideoProcessor

from cluster.caption.tiny_model import offline_tokenizer, tiny_model_dir
from cluster.tokens.timestamps import timestamp_text
from cluster.video.synth import scene_frames, write_video

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "tests" / "llamafactory" / "check.py"
TRAIN = REPO / "tests" / "llamafactory" / "train.py"


@pytest.fixture(scope="module")
def llamafactory_python() -> str:
    python = os.environ.get("VIDCURATE_LLAMAFACTORY_PYTHON", str(REPO / ".venv-llamafactory" / "bin" / "python"))
    if not Path(python).exists():
        message = f"{python} is absent: build it with bash tests/llamafactory/build_env.sh"
        if os.environ.get("VIDCURATE_CI"):
            pytest.fail(message)  # .ci/run builds it: in CI its absence is a failure
        pytest.skip(message)
    return python


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("qwen25-class-defaults")
    (root / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    offline_tokenizer().save_pretrained(root)
    Qwen2VLImageProcessor().save_pretrained(root)
    Qwen2VLVideoProcessor().save_pretrained(root)
    return root


@pytest.fixture(scope="module")
def qwen3_model_dir(tmp_path_factory) -> Path:
    """A Qwen3-VL folder: the real Qwen3 tokenizer and the published processor bounds (the
    per-frame cap off: transformers 5.6, which LLaMA-Factory runs on, has none)."""
    root = qwen3_tokenizer_dir(tmp_path_factory.mktemp("qwen3-vl"))
    (root / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
    image_size = {"shortest_edge": 65536, "longest_edge": 16777216}
    Qwen2VLImageProcessor(patch_size=16, size=image_size).save_pretrained(root)
    video_size = {"shortest_edge": 4096, "longest_edge": 25165824}
    Qwen3VLVideoProcessor(size=video_size, cap_pixels_per_frame=False).save_pretrained(root)
    return root


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
def test_llamafactory_builds_the_stored_counts(
    ray_head, model_dir, qwen3_model_dir, llamafactory_python, shared_videos, tmp_path, family
):
    """At 24, 25, 29.97 and 30 fps, 1080p and portrait, odd frame counts (2.52 s at 25 fps
    samples 5 frames), and a shared video."""
    videos = [
        write_video(tmp_path / "wide.mp4", scene_frames(640, 360, 25, [3.0, 3.4, 2.52], seed=1), 25),
        write_video(tmp_path / "portrait.mp4", scene_frames(360, 640, 30, [2.8, 3.3], seed=2), 30),
        write_video(tmp_path / "1080p.mp4", scene_frames(1920, 1080, 24, [2.3], seed=3), 24),
        write_video(tmp_path / "ntsc.mp4", scene_frames(854, 480, 30, [3.1], seed=4), Fraction(30000, 1001)),
        shared_videos / "testvideo.mp4",
    ]
    out = tmp_path / "out"
    folder = str(qwen3_model_dir if family == "qwen3-vl" else model_dir)
    tokens = {"consumer": "llamafactory", "family": family, "model": folder, "tokenizer": folder}
    if family == "qwen3-vl":
        tokens["timestamp_origin"] = "clip"
    run_offline(videos, out, output={"media": "both"}, sample={"include_image": True}, tokens=tokens)
    rows = pq.read_table(out / "dataset").to_pylist()
    # each video once as its frame files and once as its mp4
    forms = {
        "frames": lambda r: [[str(out / f) for f in r["videos"][0]]],
        "clip": lambda r: [str(out / r["video_clips"][0])],
    }
    samples = [
        {
            "id": f"{r['id']}/{form}",
            "messages": r["messages"],
            "images": [str(out / i) for i in r["images"]],
            "videos": videos_of(r),
        }
        for r in rows
        for form, videos_of in forms.items()
    ]
    (tmp_path / "samples.json").write_text(json.dumps(samples))
    arguments = [folder, str(out / "trainer_args.json"), str(tmp_path / "samples.json")]
    done = subprocess.run(
        [llamafactory_python, str(CHECK), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    built = {b["id"]: b for b in json.loads(done.stdout.strip().splitlines()[-1])}
    assert len(built) == 2 * len(rows) >= 10
    assert any(len(m["frame_indices"]) % 2 for r in rows for m in r["media"] if m["kind"] == "video")
    for row, form in ((r, f) for r in rows for f in forms):
        b = built[f"{row['id']}/{form}"]
        (video,) = [m for m in row["media"] if m["kind"] == "video"]
        assert (b["video_pads"], b["image_pads"]) == (row["video_pad_tokens"], row["image_pad_tokens"]), row["id"]
        assert b["video_grids"] == [video["grid_thw"]], row["id"]
        assert b["timestamps"] == [timestamp_text(t) for t in video["timestamps"]], row["id"]
        assert b["input_ids"] == row["total_tokens"], row["id"]
    assert (family == "qwen3-vl") == all(r["timestamp_tokens"] > 0 for r in rows)


def test_llamafactory_trains_on_a_run_with_its_trainer_args(ray_head, llamafactory_python, tmp_path):
    """Two training steps of the real LLaMA-Factory on a run counted for a (tiny, random)
    model's own processor configs, reading dataset/ through the root's dataset_info.json, with
    trainer_args.json's block as it is: the advised cutoff_len cuts no sample."""
    model = tiny_model_dir(tmp_path / "cache")
    video = write_video(tmp_path / "wide.mp4", scene_frames(640, 360, 25, [3.0, 3.4, 2.6], seed=1), 25)
    out = tmp_path / "out"
    tokens = {"consumer": "llamafactory", "family": "qwen2-vl", "model": str(model), "tokenizer": str(model)}
    run_offline([video], out, sample={"include_image": True}, tokens=tokens)
    done = subprocess.run(
        [llamafactory_python, str(TRAIN), str(model), str(out / "trainer_args.json"), str(tmp_path / "trained")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((tmp_path / "trained" / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert state["global_step"] == 2 and len(losses) == 2 and all(0 < loss < 100 for loss in losses)
