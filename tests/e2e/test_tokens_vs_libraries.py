"""Counts, grids and frame indices agree with the real qwen-vl-utils and transformers."""

import os

import numpy as np
import pytest
from PIL import Image

from cluster.tokens.profiles import TokenProfile
from cluster.tokens.sampling import plan_image, plan_video
from cluster.video.synth import scene_frames, write_video
from schemas.trainer import trainer_args

os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")
# the test extra installs qwen-vl-utils and transformers: a missing one fails, never skips
import qwen_vl_utils.vision_process as qvu
from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor
from transformers.video_utils import VideoMetadata

QVU, HF = TokenProfile(consumer="qwen-vl-utils"), TokenProfile(consumer="hf-processor")
SIZES = [(224, 224), (1920, 1080), (1280, 720), (640, 480), (100, 100), (1000, 50), (333, 777)]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    specs = {"720p30": (1280, 720, 30, 2.5), "480p25": (640, 480, 25, 3.0), "odd": (426, 240, 24, 5.3)}
    return {
        name: (str(write_video(root / f"{name}.mp4", scene_frames(w, h, fps, [secs]), fps)), w, h)
        for name, (w, h, fps, secs) in specs.items()
    }


@pytest.mark.parametrize("w,h", SIZES)
def test_image_size_matches_qwen_vl_utils(w, h):
    image = Image.new("RGB", (w, h))
    resized = qvu.fetch_image({"image": image}, image_patch_size=14)
    assert plan_image(h, w, QVU).resized_size == (resized.height, resized.width)


@pytest.mark.parametrize("w,h", SIZES)
def test_qwen3_image_grid_matches_the_hf_processor_built_from_trainer_args(w, h):
    q3 = TokenProfile(consumer="hf-processor", family="qwen3-vl")
    block = trainer_args(q3, "/data", 1, True)["hf_processor"]["image_processor"]
    out = Qwen2VLImageProcessor(**block)(images=[np.zeros((h, w, 3), np.uint8)], return_tensors="np")
    assert plan_image(h, w, q3).count.grid == tuple(int(x) for x in out["image_grid_thw"][0])


@pytest.mark.parametrize("w,h", SIZES)
def test_image_grid_matches_the_hf_processor(w, h):
    processor = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=16384 * 28 * 28)
    out = processor(images=[np.zeros((h, w, 3), np.uint8)], return_tensors="np")
    grid = tuple(int(x) for x in out["image_grid_thw"][0])
    plan = plan_image(h, w, HF)
    assert plan.count.grid == grid
    assert plan.count.pad_tokens == int(np.prod(grid)) // 4


@pytest.mark.parametrize("name", ["720p30", "480p25", "odd"])
def test_video_sampling_matches_qwen_vl_utils_fetch_video(videos, name):
    import decord

    path, w, h = videos[name]
    (video, meta), sample_fps = qvu.fetch_video(
        {"video": path}, return_video_sample_fps=True, return_video_metadata=True
    )
    reader = decord.VideoReader(path)
    plan = plan_video(len(reader), reader.get_avg_fps(), h, w, QVU)
    assert list(plan.indices) == list(meta["frames_indices"])
    # the stored size moves to multiples of 56 (its frame-list path keeps only those):
    # test_qwen3_vl.py feeds qwen-vl-utils the written frames and clips
    assert all(abs(a - b) < 56 for a, b in zip(plan.resized_size, video.shape[-2:], strict=True))
    assert plan.sampled_fps == pytest.approx(sample_fps)


@pytest.mark.parametrize("name", ["720p30", "480p25", "odd"])
def test_video_grid_and_indices_match_the_hf_video_processor(videos, name):
    import decord

    path, w, h = videos[name]
    reader = decord.VideoReader(path)
    frames, fps = reader.get_batch(list(range(len(reader)))).asnumpy(), reader.get_avg_fps()
    processor = Qwen2VLVideoProcessor(do_sample_frames=True, cap_pixels_per_frame=True, fps=2)
    metadata = VideoMetadata(total_num_frames=len(reader), fps=fps, width=w, height=h)
    out = processor(videos=[frames], video_metadata=[metadata], return_tensors="np")
    indices = processor.sample_frames(metadata=VideoMetadata(total_num_frames=len(reader), fps=fps))
    plan = plan_video(len(reader), fps, h, w, HF)
    assert list(plan.indices) == [int(i) for i in indices]
    assert plan.count.grid == tuple(int(x) for x in out["video_grid_thw"][0])
