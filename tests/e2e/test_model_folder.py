"""With tokens.model, counts follow the trainer's own model folder: its image and video
processor configs (and transformers' class defaults for what they leave out), read apart,
each parameter's source stated, a model of another family refused."""

import json

import numpy as np
import pytest
from offline_runs import run_offline
from PIL import Image
from transformers import (
    AutoVideoProcessor,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
    Qwen3VLVideoProcessor,
)

from cluster.progress import SettingsChanged
from cluster.tokens.model import ModelMismatch
from cluster.tokens.sampling import plan_video
from jobs.config import TokensConfig


def _model(root, model_type, image, video):
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"model_type": model_type}))
    image.save_pretrained(root)
    video.save_pretrained(root)
    return root


@pytest.fixture
def class_defaults(tmp_path):
    """A Qwen2.5-VL folder whose processor configs hold transformers' class defaults (video
    min 100,352 pixels, not the Hub's 3,136): the case that crashed LLaMA-Factory."""
    return _model(tmp_path / "q25", "qwen2_5_vl", Qwen2VLImageProcessor(), Qwen2VLVideoProcessor())


def _llamafactory_grid(folder, plan, frames_hw):
    """What LLaMA-Factory's Qwen2VLPlugin builds: pre-scaled frames through the model's
    video processor."""
    processor = AutoVideoProcessor.from_pretrained(folder)
    frames = np.zeros((len(plan.indices) + len(plan.indices) % 2, *frames_hw, 3), np.uint8)
    out = processor(videos=[frames], return_tensors="np")
    return tuple(int(x) for x in out["video_grid_thw"][0])


def test_llamafactory_counts_follow_the_models_video_processor(class_defaults):
    hub = TokensConfig(consumer="llamafactory", family="qwen2.5-vl")
    mine = TokensConfig(consumer="llamafactory", family="qwen2.5-vl", model=str(class_defaults))
    profile, sources = mine.effective()
    assert profile.resolved()["processor_video_min_pixels"] == 100352
    assert profile.resolved()["processor_min_pixels"] == 3136  # images keep their own bounds
    assert sources["processor_video_min_pixels"].endswith("video_preprocessor_config.json")
    assert sources["video_max_pixels"] == "profile default"  # LLaMA-Factory's own argument
    plan = plan_video(150, 30, 480, 640, profile)
    assert _llamafactory_grid(class_defaults, plan, plan.stored_size) == plan.count.grid
    assert plan_video(150, 30, 480, 640, hub.profile()).count.pad_tokens < plan.count.pad_tokens


def test_a_value_set_in_the_config_wins_over_the_model(class_defaults):
    cfg = TokensConfig(consumer="llamafactory", model=str(class_defaults), processor_video_min_pixels=3136)
    profile, sources = cfg.effective()
    assert profile.resolved()["processor_video_min_pixels"] == 3136
    assert sources["processor_video_min_pixels"] == "tokens.processor_video_min_pixels"


def test_qwen3_hf_processor_counts_follow_the_model_folder(tmp_path):
    video = Qwen3VLVideoProcessor(size={"shortest_edge": 8192, "longest_edge": 4 * 1024 * 1024}, fps=1)
    image = Qwen2VLImageProcessor(patch_size=16, size={"shortest_edge": 65536, "longest_edge": 1048576})
    folder = _model(tmp_path / "q3", "qwen3_5", image, video)
    profile, sources = TokensConfig(consumer="hf-processor", family="qwen3-vl", model=str(folder)).effective()
    p = profile.resolved()
    assert (p["video_max_pixels"], p["fps"], p["cap_pixels_per_frame"]) == (4 * 1024 * 1024, 1.0, False)
    assert sources["cap_pixels_per_frame"].endswith("transformers default of the video processor")
    plan = plan_video(300, 30, 720, 1280, profile)
    assert len(plan.indices) == 10  # the model's 1 fps
    loaded = AutoVideoProcessor.from_pretrained(folder)
    frames = np.zeros((len(plan.indices), 720, 1280, 3), np.uint8)
    out = loaded(videos=[frames], do_sample_frames=False, return_tensors="np")
    assert tuple(int(x) for x in out["video_grid_thw"][0]) == plan.count.grid


@pytest.mark.parametrize(
    "model_type,family,match",
    [("qwen3_vl", "qwen2.5-vl", "not tokens.family 'qwen2.5-vl'"), ("llava", "qwen2.5-vl", "llava model")],
)
def test_a_model_of_another_family_is_refused(class_defaults, model_type, family, match):
    (class_defaults / "config.json").write_text(json.dumps({"model_type": model_type}))
    with pytest.raises(ModelMismatch, match=match):
        TokensConfig(consumer="hf-processor", family=family, model=str(class_defaults)).effective()


def test_an_unreadable_model_is_a_usage_error(tmp_path):
    with pytest.raises(ModelMismatch, match="cannot be read"):
        TokensConfig(consumer="hf-processor", model=str(tmp_path / "absent")).effective()


def test_frames_stored_for_the_model_are_what_the_processor_keeps(class_defaults, tmp_path):
    """hf-processor with the class-default folder: stored frames, reloaded as JPEGs, keep the grid."""
    profile, _ = TokensConfig(consumer="hf-processor", family="qwen2.5-vl", model=str(class_defaults)).effective()
    plan = plan_video(75, 25, 480, 640, profile)
    h, w = plan.stored_size
    frames = [np.asarray(Image.new("RGB", (w, h))) for _ in plan.indices]
    processor = AutoVideoProcessor.from_pretrained(class_defaults)
    out = processor(videos=[frames], do_sample_frames=False, return_tensors="np")
    assert tuple(int(x) for x in out["video_grid_thw"][0]) == plan.count.grid


def test_a_run_with_the_trainers_model_writes_counts_its_processor_reproduces(
    ray_head, shared_videos, class_defaults, tmp_path, monkeypatch
):
    """The job with tokens.model: LLaMA-Factory's way (pre-scaled frames through the model's
    own video processor) gives the stored pads; trainer_args.json says where each came from."""
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    tokens = {"consumer": "llamafactory", "family": "qwen2.5-vl", "model": str(class_defaults)}
    run_offline([shared_videos / "chaplin.mp4"], out, tokens=tokens)
    rows = pq.read_table(out / "dataset").to_pylist()
    assert rows
    processor = AutoVideoProcessor.from_pretrained(class_defaults)
    for row in rows:
        frames = [np.asarray(Image.open(out / f)) for f in row["videos"][0]]
        frames += frames[-1:] * (len(frames) % 2)
        grid = processor(videos=[frames], return_tensors="np")["video_grid_thw"][0]
        assert int(np.prod(grid)) // 4 == row["video_pad_tokens"], row["id"]
    sources = json.loads((out / "trainer_args.json").read_text())["parameter_sources"]
    assert sources["processor_video_min_pixels"] == f"{class_defaults}: video_preprocessor_config.json"
    # samples counted by another pipeline version are not mixed in: the rerun asks for --replace
    monkeypatch.setattr("cluster.pipeline.materialize_pass.PIPELINE_VERSION", "0.1.0")
    with pytest.raises(SettingsChanged, match=r"pipeline_version: '0\.2\.0' -> '0\.1\.0'"):
        run_offline([shared_videos / "chaplin.mp4"], out, tokens=tokens)
