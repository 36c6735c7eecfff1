"""Placeholder counts reproduce every worked example of docs/token-spec.md."""

import pytest
from pydantic import ValidationError

from cluster.tokens.geometry import GeometryError
from cluster.tokens.profiles import TokenProfile
from cluster.tokens.sampling import SamplingError, plan_image, plan_video
from cluster.tokens.timestamps import step_timestamps, timestamp_tokens

QVU, HF, LF, QVF = (
    TokenProfile(consumer=c) for c in ("qwen-vl-utils", "hf-processor", "llamafactory", "qwen-vl-finetune")
)
Q3 = TokenProfile(consumer="hf-processor", family="qwen3-vl")


@pytest.mark.parametrize(
    "w,h,resized,grid,qvu,lf,qvf,q3",
    [
        (224, 224, (224, 224), (1, 16, 16), 64, 64, 64, 64),
        (1920, 1080, (1092, 1932), (1, 78, 138), 2691, 777, 576, 2040),
        (1280, 720, (728, 1288), (1, 52, 92), 1196, 777, 576, 880),
        (640, 480, (476, 644), (1, 34, 46), 391, 391, 391, 300),
        (3840, 2160, (2156, 3836), (1, 154, 274), 10549, 777, 576, 8160),
        (100, 100, (112, 112), (1, 8, 8), 16, 16, 16, 64),
        (1000, 50, (56, 1008), (1, 4, 72), 72, 72, 72, 72),
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
        # qwen-vl-utils frame lists are stored at multiples of 56, which its frame path keeps
        (75, 25, 640, 480, QVU, 6, (504, 616), (3, 36, 44), 1188),
        (300, 30, 1280, 720, QVU, 20, (560, 1008), (10, 40, 72), 7200),
        (300, 30, 1280, 720, QVU.with_overrides(fps=1.0), 10, (560, 1008), (5, 40, 72), 3600),
        (300, 30, 1280, 720, QVU.with_overrides(nframes=7), 8, (560, 1008), (4, 40, 72), 2880),
        (300, 30, 1280, 720, QVU.with_overrides(video_max_pixels=151200), 20, (280, 504), (10, 20, 36), 1800),
        (1800, 30, 1920, 1080, QVU, 120, (560, 1008), (60, 40, 72), 43200),
        (7200, 24, 854, 480, QVU, 600, (392, 728), (300, 28, 52), 109200),
        (54000, 30, 1280, 720, QVU, 768, (336, 616), (384, 24, 44), 101376),
        (
            54000,
            30,
            1280,
            720,
            QVU.with_overrides(video_total_pixels=20480 * 784),
            768,
            (224, 448),
            (384, 16, 32),
            49152,
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


def test_qwen3_keeps_the_outer_pair_and_wraps_every_temporal_step():
    plan = plan_video(300, 30, 720, 1280, Q3)
    assert plan.count.sequence_tokens == plan.count.pad_tokens + 2 + 2 * plan.count.grid[0]


@pytest.mark.parametrize(
    "frames,fps,w,h,n,size,grid",
    [
        # 20 frames: the per-frame cap (768 tokens of 32x32) applies to frames x height x width
        (300, 30, 1280, 720, 20, (640, 1152), (10, 40, 72)),
        # an odd count (int(2.5 s x 2) = 5) is kept, compared as round(5 / 2) x 2 = 4, padded to 3 steps
        (75, 30, 1280, 720, 5, (704, 1280), (3, 44, 80)),
        # at least 4 frames; a 320x240 clip is inside the bounds
        (30, 30, 320, 240, 4, (256, 320), (2, 16, 20)),
        # portrait 1080p at 29.97
        (300, 29.97, 1080, 1920, 20, (1152, 640), (10, 72, 40)),
    ],
)
def test_qwen3_hf_processor_samples_and_budgets_the_whole_clip(frames, fps, w, h, n, size, grid):
    plan = plan_video(frames, fps, h, w, Q3)
    assert len(plan.indices) == n and plan.stored_size == plan.resized_size == size and plan.count.grid == grid
    assert plan.count.pad_tokens == grid[0] * grid[1] * grid[2] // 4


def test_qwen3_timestamps_are_source_times_of_each_step():
    plan = plan_video(75, 30, 720, 1280, Q3, first_frame=300)
    # indices 0, 18, 37, 56, 74 (+74 repeated) of a clip starting 10 s into its source
    assert plan.indices == (0, 18, 37, 56, 74)
    assert [f"{t:.1f}" for t in plan.timestamps] == ["10.3", "11.6", "12.5"]
    assert plan.timestamp_tokens == 3 * 7 and plan.tokens == plan.count.sequence_tokens + 21


def test_timestamp_rule_counts_digits_dot_and_three_markers():
    assert step_timestamps([0, 1, 2], 2.0) == (0.25, 1.0)
    assert timestamp_tokens([0.25, 1.0, 123.44]) == 6 + 6 + 8


def test_qwen_vl_utils_frame_lists_are_stored_at_twice_the_factor():
    for w, h in ((640, 480), (1280, 720), (1920, 1080), (1080, 1920), (426, 240)):
        plan = plan_video(150, 25, h, w, QVU)
        assert plan.stored_size[0] % 56 == 0 and plan.stored_size[1] % 56 == 0, (w, h)


@pytest.mark.parametrize("alias", ["qwen3.5", "qwen3.5-moe", "qwen3-vl-moe"])
def test_newer_models_with_qwen3_processors_resolve_to_the_same_rules(alias):
    profile = TokenProfile(consumer="hf-processor", family=alias)
    assert profile.family == "qwen3-vl" and profile.resolved() == Q3.resolved()


def test_hf_processor_profiles_record_the_per_frame_cap():
    for family in ("qwen2-vl", "qwen2.5-vl", "qwen3-vl"):
        assert TokenProfile(consumer="hf-processor", family=family).resolved()["cap_pixels_per_frame"] is True
    uncapped = plan_video(300, 30, 720, 1280, Q3.with_overrides(cap_pixels_per_frame=False))
    assert uncapped.count.pad_tokens > plan_video(300, 30, 720, 1280, Q3).count.pad_tokens


def test_qwen3_needs_two_frames():
    with pytest.raises(SamplingError, match="2"):
        plan_video(1, 30, 720, 1280, Q3)


def test_unsupported_combinations_are_refused_with_the_nearest_profile():
    with pytest.raises(ValidationError, match="nearest exact profile is consumer 'hf-processor'"):
        TokenProfile(consumer="qwen-vl-finetune", family="qwen3.5")


@pytest.mark.parametrize("consumer", ["qwen-vl-utils", "llamafactory"])
def test_consumers_that_time_clips_from_their_start_need_clip_relative_timestamps(consumer):
    with pytest.raises(ValidationError, match=r"set tokens.timestamp_origin: clip.*or use consumer 'hf-processor'"):
        TokenProfile(consumer=consumer, family="qwen3.5")
    assert TokenProfile(consumer=consumer, family="qwen3.5", timestamp_origin="clip").resolved()["fps"] == 2.0
    with pytest.raises(ValidationError, match="qwen3-vl' only"):
        TokenProfile(consumer=consumer, timestamp_origin="clip")


def test_hf_processor_counts_clip_relative_times_when_asked():
    plan = plan_video(75, 30, 720, 1280, Q3.with_overrides(timestamp_origin="clip"), first_frame=300)
    assert plan.metadata_indices == (0, 18, 37, 56, 74) and plan.metadata_fps == 30
    assert [f"{t:.1f}" for t in plan.timestamps] == ["0.3", "1.6", "2.5"]


def test_llamafactory_times_the_frame_list_at_its_fps_and_drops_the_outer_pair():
    profile = TokenProfile(consumer="llamafactory", family="qwen3-vl", timestamp_origin="clip")
    plan = plan_video(75, 30, 720, 1280, profile, first_frame=300)
    # floor(2.5 s x 2) = 5 frames, truncated linspace; LLaMA-Factory pads the list to 6
    assert plan.indices == (0, 18, 37, 55, 74) and plan.stored_size == (192, 341)
    assert plan.metadata_indices == (0, 1, 2, 3, 4) and plan.media_fps == plan.metadata_fps == 2.0
    assert [f"{t:.1f}" for t in plan.timestamps] == ["0.2", "1.2", "2.0"]
    steps, per_step = plan.count.grid[0], plan.count.grid[1] * plan.count.grid[2] // 4
    assert steps == 3 and plan.count.sequence_tokens == steps * (per_step + 2)


def test_qwen_vl_utils_times_its_frames_at_the_trainers_fps_even_when_fitting_lowers_it():
    profile = TokenProfile(consumer="qwen-vl-utils", family="qwen3-vl", timestamp_origin="clip")
    plan = plan_video(300, 30, 720, 1280, profile.with_overrides(fps=1.0), clock_fps=2.0)
    assert len(plan.indices) == 10 and plan.metadata_indices == tuple(range(10))
    assert plan.timestamps == tuple((2 * k + 0.5) / 2.0 for k in range(5)) and plan.media_fps == 2.0


def test_parameters_of_another_consumer_are_refused():
    with pytest.raises(ValidationError, match="hf-processor"):
        TokenProfile(consumer="llamafactory", cap_pixels_per_frame=False)
