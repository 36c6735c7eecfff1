"""Fit a video into a token budget by lowering fps, then resolution, within the profile."""

from __future__ import annotations

from cluster.tokens.profiles import TokenProfile
from cluster.tokens.sampling import SamplingError, VideoPlan, plan_video

STEPS = (1.0, 0.75, 0.5, 0.375, 0.25, 0.125, 0.0625)


class OverBudget(SamplingError):
    """Even the lowest fps and resolution the profile allows exceed the budget."""


def fit_video(
    total_frames: int,
    video_fps: float,
    height: int,
    width: int,
    profile: TokenProfile,
    budget: int | None,
    other_tokens: int = 0,
    first_frame: int = 0,
) -> tuple[VideoPlan, TokenProfile, str | None]:
    """Return the plan, the profile it was made with, and a note of what was lowered. The
    budget covers the video's pads, vision markers and timestamps, plus `other_tokens`."""
    base = profile.resolved()
    clock = base.get("fps")  # the trainer's fps, whatever fitting lowers per sample
    plan = plan_video(total_frames, video_fps, height, width, profile, first_frame, clock)
    if budget is None or plan.tokens + other_tokens <= budget:
        return plan, profile, None
    for pixel_step in STEPS:  # fps is lowered first, then resolution
        for fps_step in STEPS:
            changes = _changes(profile, base, fps_step, pixel_step)
            if changes is None:
                continue
            candidate = profile.with_overrides(**changes)
            plan = plan_video(total_frames, video_fps, height, width, candidate, first_frame, clock)
            if plan.tokens + other_tokens <= budget:
                note = ", ".join(f"{k} {base.get(k)} -> {v}" for k, v in changes.items())
                return plan, candidate, note
    raise OverBudget(
        f"{plan.tokens + other_tokens} tokens at the lowest fps and resolution "
        f"{profile.name} allows, over max_total_tokens={budget}"
    )


def _changes(profile: TokenProfile, base: dict, fps_step: float, pixel_step: float) -> dict | None:
    changes: dict = {}
    if fps_step < 1:
        if profile.nframes is not None:
            return None
        changes["fps"] = base["fps"] * fps_step
    if pixel_step < 1:
        lowest = base["video_min_pixels"]
        target = int(base["video_max_pixels"] * pixel_step)
        if target < lowest:
            return None
        changes["video_max_pixels"] = target
    return changes
