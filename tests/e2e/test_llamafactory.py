"""The real LLaMA-Factory, handed a run's samples as its trainer would, builds exactly the
stored counts: pads per video and image, grids, and the whole input_ids length. It pins
transformers <= 5.6, so it runs in its own environment (tests/llamafactory/build_env.sh,
which .ci/run builds), on a model folder whose processor configs hold transformers' class
defaults (video min 100,352 pixels, not the Hub's 3,136), read through tokens.model."""

import json
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from offline_runs import run_offline
from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

from cluster.caption.tiny_model import offline_tokenizer
from cluster.video.synth import scene_frames, write_video

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "tests" / "llamafactory" / "check.py"


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


def test_llamafactory_builds_the_stored_counts(ray_head, model_dir, llamafactory_python, tmp_path):
    videos = [
        write_video(tmp_path / "wide.mp4", scene_frames(640, 360, 25, [3.0, 3.4, 2.6], seed=1), 25),
        write_video(tmp_path / "portrait.mp4", scene_frames(360, 640, 30, [2.8, 3.3], seed=2), 30),
    ]
    out = tmp_path / "out"
    tokens = {"consumer": "llamafactory", "family": "qwen2.5-vl", "model": str(model_dir), "tokenizer": str(model_dir)}
    run_offline(videos, out, sample={"include_image": True}, tokens=tokens)
    rows = pq.read_table(out / "dataset").to_pylist()
    samples = [
        {
            "id": r["id"],
            "messages": r["messages"],
            "images": [str(out / i) for i in r["images"]],
            "videos": [[str(out / f) for f in frames] for frames in r["videos"]],
        }
        for r in rows
    ]
    (tmp_path / "samples.json").write_text(json.dumps(samples))
    arguments = [str(model_dir), str(out / "trainer_args.json"), str(tmp_path / "samples.json")]
    done = subprocess.run(
        [llamafactory_python, str(CHECK), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    built = {b["id"]: b for b in json.loads(done.stdout.strip().splitlines()[-1])}
    assert len(built) == len(rows) >= 2
    for row in rows:
        b = built[row["id"]]
        assert (b["video_pads"], b["image_pads"]) == (row["video_pad_tokens"], row["image_pad_tokens"]), row["id"]
        assert sum(t * h * w // 4 for t, h, w in b["video_grids"]) == row["video_pad_tokens"], row["id"]
        assert b["input_ids"] == row["total_tokens"], row["id"]
