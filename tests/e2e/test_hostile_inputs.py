"""Hostile inputs and shared roots through the real job: admission that holds to the last read,
bounded work per input, frozen-frame corruption, the output never feeding the input, and one
run per root. Every case generates its input; in each, every input ends kept, filtered or
errored with its reason, and the counts add up."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import pyarrow.parquet as pq
import pytest
import ray
from http_servers import folder_server, silent_server, trickle_server
from local_inputs import access
from media_files import write_with_pts
from offline_runs import OFFLINE_ALL_SEGMENTS as OFFLINE

from cluster.admission import ForbiddenInput, InputPolicy
from cluster.sources import Source, identify, read
from cluster.stages.keyframe_stage import DecodeKeyframes
from cluster.storage import InputChanged
from cluster.video.probe import probe_video
from cluster.video.synth import scene_frames, write_scene_video
from jobs.config import parse_config
from jobs.curate import run

TITLE_CAP = 1000


def corrupt_after(path: Path, seconds: float) -> Path:
    """Zero the payload of every video packet from `seconds` on (their headers stay): the
    decoder produces nothing for them, and a naive reader repeats the last good frame."""
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [(p.pos, p.size) for p in container.demux(stream) if p.size and p.pts * stream.time_base >= seconds]
    for pos, size in packets:
        data[pos + 8 : pos + size] = bytes(size - 8)
    path.write_bytes(bytes(data))
    return path


def timestamp_jump(path: Path) -> Path:
    """Two seconds of frames, then two more stamped a million seconds later."""
    frames = list(scene_frames(160, 120, 25, [2.0, 2.0], seed=4))
    pts = [i * 40 for i in range(50)] + [10**9 + i * 40 for i in range(50)]
    return write_with_pts(path, frames, pts, Fraction(1, 1000))


# --- the hostile manifest, through one run ------------------------------------------------


@pytest.fixture(scope="module")
def servers(tmp_path_factory, shared_videos):
    www = tmp_path_factory.mktemp("www")
    (www / "public").mkdir()
    shutil.copy(shared_videos / "chaplin.mp4", www / "public" / "remote.mp4")
    shutil.copy(shared_videos / "testvideo.mp4", www / "public" / "large.mp4")  # 2.4 MB
    shutil.copy(shared_videos / "counter.mp4", www / "secret.mp4")
    with folder_server(www) as folder, silent_server() as silent, trickle_server(4096, 0.5) as trickle:
        yield {"folder": folder, "silent": silent, "trickle": trickle}


EXPECTED = [
    ("kept", "sample"),  # good.mp4
    *[("filtered", "duplicate_input")] * 5,  # the same file by //, /./, file://, a symlink, a hard link
    ("errored", "admission:ForbiddenInput"),  # a NUL byte in the path
    ("kept", "sample"),  # titled.mp4, with a 1 MB title
    ("kept", "sample"),  # jump.mkv: cut at the jump
    ("kept", "sample"),  # corrupt_after_1s.mp4: its first second
    ("kept", "sample"),  # swapped.mp4 (swapped for a symlink later)
    ("kept", "sample"),  # http: public/remote.mp4
    ("errored", "admission:ForbiddenInput"),  # http: public/%2e%2e/secret.mp4
    ("errored", "probe:InputUnavailable"),  # a server that never answers
    ("errored", "probe:InputUnavailable"),  # a server that sends a byte every half second
    ("errored", "probe:InputTooLarge"),  # over input.remote.max_bytes
]


@pytest.fixture(scope="module")
def hostile(ray_head, tmp_path_factory, servers):
    root = tmp_path_factory.mktemp("hostile")
    inside, outside = root / "in", root / "outside"
    inside.mkdir(), outside.mkdir()
    good, _ = write_scene_video(inside / "good.mp4", [2.5, 3.0], seed=1)
    write_scene_video(inside / "titled.mp4", [3.0], seed=2)
    timestamp_jump(inside / "jump.mkv")
    corrupt_after(write_scene_video(inside / "corrupt_after_1s.mp4", [6.0], seed=3)[0], 1.0)
    write_scene_video(inside / "swapped.mp4", [3.0], seed=5)
    write_scene_video(outside / "elsewhere.mp4", [3.0], seed=6)
    (inside / "link.mp4").symlink_to(good)
    os.link(good, inside / "hard.mp4")
    folder, silent, trickle = servers["folder"], servers["silent"], servers["trickle"]
    uris = [
        str(good),
        f"{root}//in/good.mp4",
        f"{root}/./in/good.mp4",
        f"file://{good}",
        str(inside / "link.mp4"),
        str(inside / "hard.mp4"),
        f"{inside}/nul\x00.mp4",
        str(inside / "titled.mp4"),
        str(inside / "jump.mkv"),
        str(inside / "corrupt_after_1s.mp4"),
        str(inside / "swapped.mp4"),
        f"{folder.url}/public/remote.mp4",
        f"{folder.url}/public/%2e%2e/secret.mp4",
        f"{silent.url}/stalled.mp4",
        f"{trickle.url}/trickle.mp4",
        f"{folder.url}/public/large.mp4",
    ]
    rows = [{"uri": u} for u in uris]
    rows[7]["title"] = "a long title " * 80_000  # about 1 MB
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "input": {
            "manifest": str(manifest),
            "chunk_size": 4,
            "allowed_roots": [str(inside), f"{folder.url}/public", silent.url, trickle.url],
            "max_text_chars": TITLE_CAP,
            "remote": {"connect_timeout_s": 2, "read_timeout_s": 2, "fetch_timeout_s": 6, "max_bytes": 2_000_000},
        },
        "output": {"root": str(root / "out")},
        "split": {"min_seconds": 0.5, "max_seconds": 10.0},
        "decoder": {"retries": 0},
        **OFFLINE,
    }
    summary = run(parse_config(config))
    return {"root": root, "out": root / "out", "uris": uris, "summary": summary, "config": config}


def _outcomes(out: Path) -> list[tuple[str, str]]:
    rows = sorted(pq.read_table(out / "inputs.parquet").to_pylist(), key=lambda r: r["input_index"])
    return [(r["outcome"], r["reason"]) for r in rows]


def _candidates(out: Path, name: str) -> list[dict]:
    return [r for r in pq.read_table(out / "candidates").to_pylist() if r["uri"].endswith(name)]


def test_every_hostile_input_ends_with_its_reason_and_the_counts_add_up(hostile):
    outcomes = _outcomes(hostile["out"])
    assert outcomes == EXPECTED, [
        (u, got, want) for u, got, want in zip(hostile["uris"], outcomes, EXPECTED, strict=True) if got != want
    ]
    v, summary = hostile["summary"]["videos"], hostile["summary"]
    assert summary["balanced"] and v["kept"] + v["filtered"] + v["errored"] == summary["inputs"] == len(EXPECTED)


def test_the_same_file_reached_six_ways_gives_one_set_of_samples(hostile):
    first, *others = hostile["uris"][:6]
    sources = [r["source_uri"] for r in pq.read_table(hostile["out"] / "dataset").to_pylist()]
    assert sources.count(first) == 2  # its two scenes, once
    assert not set(sources) & set(others)


def test_a_path_that_cannot_be_checked_is_an_errored_row_not_a_crashed_run(hostile):
    errors = pq.read_table(hostile["out"] / "errors").to_pylist()
    (nul,) = [e for e in errors if "\x00" in e["input"]]
    assert nul["stage"] == "admission" and "cannot be checked" in nul["error_message"]


def test_a_timestamp_jump_cuts_the_video_instead_of_multiplying_its_segments(hostile):
    rows = _candidates(hostile["out"], "jump.mkv")
    assert [(r["start_frame"], r["end_frame"]) for r in rows] == [(0, 50), (50, 100)]
    assert all(r["duration_s"] == pytest.approx(2.0) for r in rows)
    assert rows[0]["probe"]["timestamp_jumps"] == 1 and rows[0]["probe"]["duration"] == pytest.approx(4.0)


def test_a_video_whose_packets_after_1s_are_corrupt_keeps_only_that_second(hostile):
    good, damaged = _candidates(hostile["out"], "corrupt_after_1s.mp4")
    assert (good["start_frame"], good["end_frame"], good["status"], good["corrupt_frames"]) == (0, 25, "ok", 0)
    assert (damaged["start_frame"], damaged["end_frame"]) == (25, 150)
    assert (damaged["status"], damaged["reason"], damaged["corrupt_frames"]) == ("filtered", "corrupt_frames", 125)
    (sample,) = [r for r in pq.read_table(hostile["out"] / "dataset").to_pylist() if r["source_uri"] == good["uri"]]
    assert sample["segment_end_s"] == pytest.approx(1.0)


def test_a_long_title_is_capped_and_the_cut_recorded(hostile):
    (row,) = _candidates(hostile["out"], "titled.mp4")
    assert len(row["title"]) == TITLE_CAP and row["text_truncated"] == ["title"]
    (sample,) = [r for r in pq.read_table(hostile["out"] / "dataset").to_pylist() if r["source_uri"] == row["uri"]]
    assert len(sample["messages"][-1]["content"]) <= TITLE_CAP


def test_a_remote_root_admits_only_what_the_client_requests_inside_it(hostile, servers):
    folder = servers["folder"]
    asked = [path for _, path in folder.requests]
    assert all(path.startswith("/public/") and "%2e" not in path.lower() for path in asked), asked
    assert "/secret.mp4" not in asked
    # fetched once per worker process that needs it, not once per stage and segment
    assert 1 <= folder.gets("/public/remote.mp4") <= 2, folder.requests
    errors = {e["input"]: e for e in pq.read_table(hostile["out"] / "errors").to_pylist()}
    assert "'..' in an input path is refused" in errors[f"{folder.url}/public/%2e%2e/secret.mp4"]["error_message"]


def test_remote_reads_are_bounded_by_their_timeouts_and_size(hostile, servers):
    errors = {e["input"]: e["error_message"] for e in pq.read_table(hostile["out"] / "errors").to_pylist()}
    silent, trickle, folder = servers["silent"], servers["trickle"], servers["folder"]
    assert "did not answer in time (input.remote.connect_timeout_s=2" in errors[f"{silent.url}/stalled.mp4"]
    assert "input.remote.fetch_timeout_s=6s" in errors[f"{trickle.url}/trickle.mp4"]
    assert "over input.remote.max_bytes=2000000" in errors[f"{folder.url}/public/large.mp4"]
    assert folder.gets("/public/large.mp4") == 0, "its size was known before any byte was fetched"


def test_the_workers_caches_of_remote_inputs_are_gone_after_the_run(hostile):
    job = ray.get_runtime_context().get_job_id()
    assert glob.glob(os.path.join(tempfile.gettempdir(), f"vidcurate-cache-{job}-*")) == []


def test_a_file_swapped_for_a_link_outside_the_roots_after_admission_is_never_read(hostile):
    """Pass 1 admitted and probed swapped.mp4; then it became a symlink to a video outside
    the allowed roots. Redoing pass 3 reads it again: refused, not a sample of the other file."""
    root, out = hostile["root"], hostile["out"]
    swapped = root / "in" / "swapped.mp4"
    swapped.unlink()
    swapped.symlink_to(root / "outside" / "elsewhere.mp4")
    rerun = {**hostile["config"], "sample": {"seed": 1}, "output": {"root": str(out), "replace": True}}
    summary = run(parse_config(rerun))
    assert summary["balanced"] and summary["chunks"]["segment"]["run"] == 0
    errors = [e for e in pq.read_table(out / "errors").to_pylist() if e["input"] == str(swapped)]
    assert errors and {e["error_type"] for e in errors} == {"ForbiddenInput"}
    assert "outside/elsewhere.mp4) is outside input.allowed_roots" in errors[0]["error_message"]
    assert not [r for r in pq.read_table(out / "dataset").to_pylist() if r["source_uri"] == str(swapped)]


# --- the checks where the file is read, without Ray ------------------------------------------


def test_the_decoder_refuses_a_file_swapped_after_the_worker_checked_it(tmp_path):
    inside = tmp_path / "in"
    path, _ = write_scene_video(inside / "a.mp4", [1.0], seed=1)
    write_scene_video(tmp_path / "b.mp4", [1.0], seed=2)
    policy = InputPolicy(("file",), (str(inside),))
    first = Source(str(path), str(path), policy, identify(Source(str(path), str(path), policy, None)))
    assert read(first, probe_video).num_frames == 25
    shutil.copy(tmp_path / "b.mp4", inside / "b.mp4")
    os.replace(inside / "b.mp4", path)  # other bytes under the same name, inside the root
    with pytest.raises(InputChanged, match="changed since it was probed"):
        read(first, probe_video)
    path.unlink()
    path.symlink_to(tmp_path / "b.mp4")  # and now a link out of the root
    with pytest.raises(ForbiddenInput, match=r"outside input\.allowed_roots"):
        read(first, probe_video)


def test_keyframes_that_are_stand_ins_for_undecodable_frames_filter_the_segment(tmp_path):
    """split.mode fixed reads no frame in the split; the keyframe stage sees the damage."""
    path = corrupt_after(write_scene_video(tmp_path / "c.mp4", [6.0], seed=3)[0], 1.0)
    probe = probe_video(str(path))
    row = {
        "uri": str(path),
        "status": "ok",
        "start_s": 0.0,
        "end_s": 6.0,
        "source_fingerprint": None,
        "probe": {"display_height": 240, "display_width": 320, "start_time": probe.start_time, "rotation": 0},
    }
    out = DecodeKeyframes(8, 64, access(), 0.2)(row)
    assert (out["status"], out["reason"], out["corrupt_frames"]) == ("filtered", "corrupt_frames", 7)


# --- the output root and the input --------------------------------------------------------------


def test_an_output_root_inside_the_input_folder_is_left_out_of_the_listing(ray_head, tmp_path):
    videos = tmp_path / "videos"
    for seed in (1, 2):
        write_scene_video(videos / f"v{seed}.mp4", [3.0], seed=seed)
    config = {
        "input": {"manifest": str(videos)},
        "output": {"root": str(videos / "curated"), "media": "both"},
        "split": {"min_seconds": 1.0, "max_seconds": 10.0},
        **OFFLINE,
    }
    first = run(parse_config(config))
    assert list((videos / "curated" / "media").rglob("*.mp4")), "the run wrote clips inside the input folder"
    second = run(parse_config(config))
    assert first["inputs"] == second["inputs"] == 2
    assert second["videos"] == first["videos"] and second["videos"]["kept"] == 2
    assert second["chunks"]["segment"]["run"] == 0, "the same inputs: nothing to redo"


# --- two runs, one root ------------------------------------------------------------------------------


def _job(config: Path, ray_head: dict, *extra: str) -> subprocess.Popen:
    env = {**ray_head["env"], "RAY_ADDRESS": ray_head["address"]}
    command = [sys.executable, "-m", "jobs.curate", "--config", str(config), *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_runs_into_one_root_one_waits_and_another_profile_needs_replace(ray_head, tmp_path):
    videos = tmp_path / "videos"
    write_scene_video(videos / "v.mp4", [2.5, 3.0], seed=7)
    out = tmp_path / "out"
    base = {
        "input": {"manifest": str(videos)},
        "output": {"root": str(out)},
        "split": {"min_seconds": 1.0, "max_seconds": 10.0},
        **OFFLINE,
    }
    (tmp_path / "a.json").write_text(json.dumps({**base, "tokens": {"consumer": "llamafactory"}}))
    (tmp_path / "b.json").write_text(json.dumps({**base, "tokens": {"consumer": "qwen-vl-utils"}}))
    first = _job(tmp_path / "a.json", ray_head)
    deadline = time.monotonic() + 120
    while not (out / "_lease.json").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert first.poll() is None, "the first run ended before the second could start"
    second = _job(tmp_path / "b.json", ray_head)
    _, refused = second.communicate(timeout=300)
    assert second.returncode == 2, refused[-3000:]
    assert f"output.root {out} is in use" in refused and f"pid {first.pid}" in refused
    assert f"vidcurate unlock --root {out}" in refused
    assert first.wait(600) == 0, first.stderr.read()[-3000:] if first.stderr else ""
    dataset = pq.read_table(out / "dataset")
    assert set(dataset.column("token_profile").to_pylist()) == {"llamafactory:qwen2.5-vl"}

    again = _job(tmp_path / "b.json", ray_head)
    _, refused = again.communicate(timeout=300)
    assert again.returncode == 2, refused[-3000:]
    assert "tokens.consumer: 'llamafactory' -> 'qwen-vl-utils'" in refused and "--replace" in refused
    assert pq.read_table(out / "dataset").equals(dataset), "a refused run changes nothing"

    replaced = _job(tmp_path / "b.json", ray_head, "--replace")
    _, log = replaced.communicate(timeout=600)
    assert replaced.returncode == 0, log[-3000:]
    assert set(pq.read_table(out / "dataset").column("token_profile").to_pylist()) == {"qwen-vl-utils:qwen2.5-vl"}
    assert not (out / "_lease.json").exists()


# --- the node's cache of remote inputs -------------------------------------------------------------


def test_the_node_cache_fetches_once_and_evicts_only_what_nobody_reads(tmp_path, shared_videos):
    from cluster.stages.inputs import NodeCache

    (tmp_path / "www").mkdir()
    for name in ("chaplin.mp4", "example.mp4"):
        shutil.copy(shared_videos / name, tmp_path / "www" / name)
    size = (tmp_path / "www" / "example.mp4").stat().st_size
    with folder_server(tmp_path / "www") as server:
        one_fits = replace(access(), remote=replace(access().remote, cache_bytes=size))
        a, b = f"{server.url}/chaplin.mp4", f"{server.url}/example.mp4"
        first, second = NodeCache(str(tmp_path / "cache")), NodeCache(str(tmp_path / "cache"))  # two processes
        with first.copy(a, one_fits, None) as copy_a:
            assert read(copy_a, probe_video).num_frames == 241
        with second.copy(a, one_fits, copy_a.identity) as again:
            assert again.path == copy_a.path and server.gets("/chaplin.mp4") == 1, "fetched once per node"
            with first.copy(b, one_fits, None) as copy_b:
                pass
            assert os.path.exists(copy_a.path), "a copy being read is never evicted"
            assert not os.path.exists(copy_b.path), "so the copy nobody reads went"
        with first.copy(b, one_fits, None):
            pass
        assert not os.path.exists(copy_a.path) and os.path.exists(copy_b.path), "least recently used first"
        with pytest.raises(InputChanged, match="changed since it was probed"), second.copy(a, one_fits, "0:etag"):
            pass
