"""Reliability: the bad-input matrix through the real job, decoder crashes and hangs
contained, inputs kept inside their allowed roots, and resume after a killed driver or a
killed worker with exactly the output of an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.admission import ForbiddenInput, InputPolicy, admit, check_uri, location

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


def test_the_location_checked_is_the_one_the_client_requests():
    """fsspec's HTTP client normalises with yarl: `%2e%2e` is `..`, which it resolves. The
    check is made on what it requests, and the encoded `..` is refused outright."""
    policy = InputPolicy(("http", "https"), ("http://127.0.0.1:8000/public",))
    assert location("http://127.0.0.1:8000/public/%2e%2e/x.mp4") == "http://127.0.0.1:8000/x.mp4"
    for uri in ("http://127.0.0.1:8000/public/%2e%2e/x.mp4", "http://127.0.0.1:8000/public/%2E%2E%2Fx.mp4"):
        with pytest.raises(ForbiddenInput, match=r"'\.\.' in an input path"):
            check_uri(uri, policy)
    assert check_uri("http://127.0.0.1:8000/public//./a.mp4", policy) == "http://127.0.0.1:8000/public//a.mp4"


def test_an_entry_that_cannot_be_checked_is_refused_not_raised(tmp_path):
    policy = InputPolicy(("file", "gs"), (str(tmp_path),))
    with pytest.raises(ForbiddenInput, match="cannot be checked"):
        check_uri(f"{tmp_path}/a\x00.mp4", policy)
    verdict = admit(
        [{"uri": f"{tmp_path}/a\x00.mp4"}, {"uri": "b.mp4", "problem": "its name is not valid UTF-8"}], policy
    )
    assert set(verdict.refused) == {0, 1} and "not valid UTF-8" in str(verdict.refused[1])


def test_the_output_root_is_never_an_input(tmp_path):
    policy = InputPolicy(("file", "s3"), None, str(tmp_path / "videos" / "out"))
    check_uri(str(tmp_path / "videos" / "a.mp4"), policy)
    with pytest.raises(ForbiddenInput, match=r"inside output\.root"):
        check_uri(str(tmp_path / "videos" / "out" / "media" / "x.mp4"), policy)
    remote = InputPolicy(("s3",), None, "s3://bucket/videos/out")
    with pytest.raises(ForbiddenInput, match=r"inside output\.root"):
        check_uri("s3://bucket/videos/out/media/x.mp4", remote)


def test_the_same_file_reached_six_ways_is_one_input(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4").write_bytes(b"x")
    (videos / "other.mp4").write_bytes(b"y")
    (videos / "link.mp4").symlink_to(videos / "a.mp4")
    (videos / "hard.mp4").hardlink_to(videos / "a.mp4")
    uris = [
        str(videos / "a.mp4"),
        f"{tmp_path}//videos/a.mp4",
        f"{tmp_path}/./videos/a.mp4",
        f"file://{videos}/a.mp4",
        str(videos / "link.mp4"),
        str(videos / "hard.mp4"),
        str(videos / "other.mp4"),
        "s3://bucket/k.mp4",
        "s3://bucket/k.mp4",
    ]
    verdict = admit([{"uri": u} for u in uris], InputPolicy(("file", "s3"), (str(videos), "s3://bucket")))
    assert not verdict.refused and verdict.duplicates == {1, 2, 3, 4, 5, 8}


def test_config_paths_and_pickles_are_not_trusted():
    """No shell built from strings and no unsafe deserialisation anywhere in the code."""
    sources = [p for d in ("cluster", "jobs", "schemas") for p in (REPO / d).rglob("*.py")]
    text = {p: p.read_text() for p in sources}
    assert not [p for p, t in text.items() if "shell=True" in t or "os.system(" in t or "pickle.load" in t]
    loads = [line for t in text.values() for line in t.splitlines() if "torch.load(" in line]
    assert loads and all("weights_only=True" in line for line in loads)
