"""Placeholder counts reproduce every worked example of docs/token-spec.md."""

import pytest

from cluster.tokens.geometry import GeometryError
from cluster.tokens.profiles import TokenProfile
from cluster.tokens.sampling import plan_image, plan_video

QVU, HF, LF, QVF = (
    TokenProfile(consumer=c) for c in ("qwen-vl-utils", "hf-processor", "llamafactory", "qwen-vl-finetune")
)
Q3 = TokenProfile(consumer="qwen-vl-utils", family="qwen3-vl")


@pytest.mark.parametrize(
    "w,h,resized,grid,qvu,lf,qvf,q3",
    [
        (224, 224, (224, 224), (1, 16, 16), 64, 64, 64, 49),
        (1920, 1080, (1092, 1932), (1, 78, 138), 2691, 777, 576, 2040),
        (1280, 720, (728, 1288), (1, 52, 92), 1196, 777, 576, 880),
        (640, 480, (476, 644), (1, 34, 46), 391, 391, 391, 300),
        (3840, 2160, (2156, 3836), (1, 154, 274), 10549, 777, 576, 8160),
        (100, 100, (112, 112), (1, 8, 8), 16, 16, 16, 9),
        (1000, 50, (56, 1008), (1, 4, 72), 72, 72, 72, 62),
    ],
)
def test_image_counts_match_the_spec_table(w, h, resized, grid, qvu, lf, qvf, q3):
    plan = plan_image(h, w, QVU)
    assert plan.resized_size == resized and plan.count.grid == grid
    assert plan.count.pad_tokens == qvu == plan_image(h, w, HF).count.pad_tokens
    assert plan.count.sequence_tokens == qvu + 2
    assert plan_image(h, w, LF).count.pad_tokens == lf
    assert plan_image(h, w, QVF).count.pad_tokens == qvf
    assert plan_image(h, w, Q3).count.pad_tokens == q3


def test_extreme_aspect_ratio_is_an_error_except_under_llamafactory():
    with pytest.raises(GeometryError, match="200"):
        plan_image(1, 300, QVU)
    assert plan_image(1, 300, LF).count.pad_tokens == 20


@pytest.mark.parametrize(
    "frames,fps,w,h,profile,n,size,grid,pads",
    [
        (75, 30, 1280, 720, QVU, 4, (560, 1008), (2, 40, 72), 1440),
        (75, 25, 640, 480, QVU, 6, (476, 644), (3, 34, 46), 1173),
        (300, 30, 1280, 720, QVU, 20, (560, 1008), (10, 40, 72), 7200),
        (300, 30, 1280, 720, QVU.with_overrides(fps=1.0), 10, (560, 1008), (5, 40, 72), 3600),
        (300, 30, 1280, 720, QVU.with_overrides(nframes=7), 8, (560, 1008), (4, 40, 72), 2880),
        (300, 30, 1280, 720, QVU.with_overrides(video_max_pixels=151200), 20, (280, 504), (10, 20, 36), 1800),
        (1800, 30, 1920, 1080, QVU, 120, (560, 1008), (60, 40, 72), 43200),
        (7200, 24, 854, 480, QVU, 600, (392, 728), (300, 28, 52), 109200),
        (54000, 30, 1280, 720, QVU, 768, (336, 644), (384, 24, 46), 105984),
        (
            54000,
            30,
            1280,
            720,
            QVU.with_overrides(video_total_pixels=20480 * 784),
            768,
            (224, 420),
            (384, 16, 30),
            46080,
        ),
    ],
)
def test_video_counts_match_the_spec_table(frames, fps, w, h, profile, n, size, grid, pads):
    plan = plan_video(frames, fps, h, w, profile)
    assert len(plan.indices) == n
    assert plan.resized_size == size and plan.count.grid == grid and plan.count.pad_tokens == pads


@pytest.mark.parametrize(
    "frames,fps,w,h,pads",
    [
        (75, 30, 1280, 720, 252),
        (75, 25, 640, 480, 264),
        (300, 30, 1280, 720, 840),
        (1800, 30, 1920, 1080, 5040),
        (7200, 24, 854, 480, 5376),
        (54000, 30, 1280, 720, 5376),
    ],
)
def test_llamafactory_video_counts_match_the_spec_table(frames, fps, w, h, pads):
    assert plan_video(frames, fps, h, w, LF).count.pad_tokens == pads


def test_qvu_frame_indices_round_a_linspace():
    assert plan_video(75, 30, 720, 1280, QVU).indices == (0, 25, 49, 74)


def test_llamafactory_indices_truncate():
    assert plan_video(75, 30, 720, 1280, LF).indices == (0, 18, 37, 55, 74)


def test_mixed_sample_counts_images_and_videos_separately():
    image, video = plan_image(224, 224, HF), plan_video(300, 30, 720, 1280, HF)
    assert (image.count.pad_tokens, video.count.pad_tokens) == (64, 7200)
    assert plan_video(300, 30, 720, 1280, LF).count.pad_tokens == 840


def test_qwen3_wraps_every_temporal_step():
    plan = plan_video(300, 30, 720, 1280, Q3)
    assert plan.count.sequence_tokens == plan.count.pad_tokens + 2 * plan.count.grid[0]


def test_unsupported_combinations_are_refused_with_the_alternative():
    with pytest.raises(ValueError, match="qwen-vl-utils"):
        TokenProfile(consumer="llamafactory", family="qwen3-vl")
