"""CLIP scoring: real aesthetic heads, the scoring stage against a direct open_clip
forward, and re-thresholding that touches only selection/."""

import pytest

from cluster.pipeline.segment_pass import ScoringUnavailable, prepare_scoring
from jobs.config import ScoringConfig


def test_wrong_model_names_fail_before_work_with_the_choices():
    with pytest.raises(ScoringUnavailable, match=r"close names: .*ViT-B-32"):
        prepare_scoring(ScoringConfig(clip_model="ViT-B-33"))
    with pytest.raises(ScoringUnavailable, match="valid tags"):
        prepare_scoring(ScoringConfig(clip_pretrained="no-such-tag"))
    with pytest.raises(ScoringUnavailable, match="takes 768-d embeddings"):
        prepare_scoring(ScoringConfig(preset="random", aesthetic_head="laion-linear-vit-l-14"))


@pytest.mark.parametrize("wanted,total,share", [(1, 16, 1), (4, 16, 4), (1, 2, 1), (2, 2, 1), (1, 1, 0)])
def test_scoring_actors_always_leave_a_cpu_for_decoding(wanted, total, share):
    from cluster.pipeline.segment_pass import actor_cpu_share

    assert actor_cpu_share(wanted, total) == share
