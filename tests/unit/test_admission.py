"""Reliability: the bad-input matrix through the real job, decoder crashes and hangs
contained, inputs kept inside their allowed roots, and resume after a killed driver or a
killed worker with exactly the output of an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.admission import ForbiddenInput, InputPolicy, check_uri

REPO = Path(__file__).resolve().parents[2]


# --- untrusted manifests -------------------------------------------------------------------


def test_inputs_must_stay_inside_the_allowed_roots(tmp_path):
    inside, outside = tmp_path / "videos", tmp_path / "private"
    inside.mkdir(), outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"x")
    (inside / "link.mp4").symlink_to(outside / "secret.mp4")
    policy = InputPolicy(("file", "s3"), (str(inside), "s3://bucket/videos"))
    check_uri(str(inside / "a.mp4"), policy)
    check_uri("s3://bucket/videos/a.mp4", policy)
    refused = {
        str(outside / "secret.mp4"): "outside input.allowed_roots",
        str(inside / "link.mp4"): "resolves to",
        f"{inside}/../private/secret.mp4": "'..'",
        f"file://{outside}/secret.mp4": "outside input.allowed_roots",
        "s3://bucket/other/a.mp4": "outside input.allowed_roots",
        "s3://bucket/videos/../other/a.mp4": "'..'",
        "http://example.com/a.mp4": "scheme 'http'",
    }
    for uri, why in refused.items():
        with pytest.raises(ForbiddenInput, match=why):
            check_uri(uri, policy)


def test_config_paths_and_pickles_are_not_trusted():
    """No shell built from strings and no unsafe deserialisation anywhere in the code."""
    sources = [p for d in ("cluster", "jobs", "schemas") for p in (REPO / d).rglob("*.py")]
    text = {p: p.read_text() for p in sources}
    assert not [p for p, t in text.items() if "shell=True" in t or "os.system(" in t or "pickle.load" in t]
    loads = [line for t in text.values() for line in t.splitlines() if "torch.load(" in line]
    assert loads and all("weights_only=True" in line for line in loads)
