"""TransNetV2 as `split.detector`: fed the pass's own thumbnails, streamed in the model's
windows with the package's exact predictions, its transitions trimmed from both shots, and
none of the package's global side effects left in the run."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from cluster.models import transnet
from cluster.pipeline.segment_pass import choose_detector, split_settings
from cluster.usage import UsageError
from cluster.video.cuts import Boundary, model_boundaries
from cluster.video.guard import GuardSettings
from jobs.config import parse_config


def test_model_probabilities_become_cuts_and_transitions():
    centres, inside = np.zeros(200), np.zeros(200)
    centres[49] = inside[49] = 0.9  # the last frame before a hard cut at 50
    centres[110:112] = 0.8
    inside[100:121] = 0.9  # a dissolve around it
    centres[160] = inside[158:163] = 0.7  # a fade's two halves, 4 frames apart
    centres[170] = inside[167:175] = 0.7
    assert model_boundaries(centres, inside, 0.5, min_scene_frames=8) == [
        Boundary(50, 50, "cut"),
        Boundary(100, 121, "transition"),
        Boundary(158, 175, "transition"),
    ]
    assert model_boundaries(centres, inside, 0.95, min_scene_frames=8) == []


def test_auto_picks_transnet_on_gpu_clusters_only_and_says_why(caplog):
    with caplog.at_level(logging.INFO, logger="cluster.pipeline.segment_pass"):
        assert choose_detector("auto", 0, installed=True) == "fast"
        assert choose_detector("auto", 2, installed=False) == "fast"
        assert choose_detector("auto", 2, installed=True) == "transnetv2"
    assert "because the cluster has no GPU" in caplog.text and "pip install 'vidcurate[transnet]'" in caplog.text
    assert choose_detector("transnetv2", 0, installed=True) == "transnetv2"
    assert choose_detector("fast", 8, installed=True) == "fast"


def test_without_the_package_the_driver_stops_before_any_work_naming_the_install(monkeypatch):
    monkeypatch.setattr(transnet, "installed", lambda: False)
    monkeypatch.setattr(transnet, "_models", {})
    cfg = parse_config(
        {"input": {"manifest": "videos/"}, "output": {"root": "out"}, "split": {"detector": "transnetv2"}}
    )
    with pytest.raises(transnet.TransNetUnavailable, match=r"pip install 'vidcurate\[transnet\]'"):
        split_settings(cfg.split, GuardSettings(), gpus=0)
    assert issubclass(transnet.TransNetUnavailable, UsageError)  # the command exits 2 with the message
