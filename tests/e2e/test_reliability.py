"""Reliability: the bad-input matrix through the real job, decoder crashes and hangs
contained, inputs kept inside their allowed roots, and resume after a killed driver or a
killed worker with exactly the output of an uninterrupted run."""

from __future__ import annotations

import json
import math
import operator
import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from local_inputs import access
from media_files import remux_elementary, write_with_pts
from offline_runs import OFFLINE_ALL_SEGMENTS as OFFLINE
from PIL import Image

from cluster.progress import committed_files
from cluster.stages.segment_stage import SegmentVideo
from cluster.store import Store
from cluster.video.cuts import CutParams
from cluster.video.guard import DecoderCrashed, DecoderTimeout, GuardSettings, guarded
from cluster.video.probe import ProbeError, probe_video
from cluster.video.shots import SplitSettings
from cluster.video.synth import scene_frames, write_scene_video, write_video
from jobs.config import parse_config
from jobs.curate import run
from schemas.tables import CANDIDATES, DATASET

# --- decoder isolation ----------------------------------------------------------------------


def test_decoder_calls_run_in_a_child_and_return_their_result():
    assert guarded(GuardSettings(), "any.mp4", 0.0, operator.mul, 21, 2) == 42
    assert guarded(GuardSettings(), "any.mp4", 0.0, os.getpid) != os.getpid()


def test_the_decoder_process_loads_neither_ray_nor_the_stages():
    """It starts once per worker and sits beside it: Ray and the stages would cost it
    hundreds of MB and seconds to start (torch comes only with split.detector: transnetv2)."""
    loaded = guarded(GuardSettings(), "any.mp4", 0.0, eval, "sorted(__import__('sys').modules)")
    assert "cluster.video.shots" in loaded
    assert not [m for m in loaded if m.split(".")[0] == "ray" or m.startswith("cluster.stages")]


def test_errors_of_the_decoder_come_back_as_they_are(tmp_path):
    (tmp_path / "bad.mp4").write_bytes(b"nope")
    with pytest.raises(ProbeError, match=r"bad.mp4"):
        guarded(GuardSettings(), str(tmp_path / "bad.mp4"), 0.0, probe_video, str(tmp_path / "bad.mp4"))


def test_a_crashing_decoder_is_retried_then_reported_and_the_next_call_works():
    settings = GuardSettings(retries=2, inject_faults={"poison": "crash"})
    with pytest.raises(DecoderCrashed, match=r"poison.mp4.*attempt 3"):
        guarded(settings, "/data/poison.mp4", 0.0, operator.mul, 1, 2)
    assert guarded(settings, "/data/fine.mp4", 0.0, operator.mul, 2, 2) == 4


def test_a_hanging_decoder_times_out_and_the_next_call_works():
    settings = GuardSettings(timeout_s=1.0, per_second=0.0, retries=0, inject_faults={"stuck": "hang"})
    start = time.monotonic()
    with pytest.raises(DecoderTimeout, match="within 1s"):
        guarded(settings, "/data/stuck.mp4", 0.0, operator.mul, 1, 2)
    assert time.monotonic() - start < 10
    assert guarded(settings, "/data/fine.mp4", 0.0, operator.mul, 3, 2) == 6


def test_a_bug_in_our_code_is_raised_not_turned_into_an_error_row(tmp_path):
    path, _ = write_scene_video(tmp_path / "buggy.mp4", [1.5], seed=3)
    for isolate in (False, True):
        settings = SplitSettings("fixed", 1.0, 10.0, 2.0, CutParams())
        guard = GuardSettings(isolate=isolate, inject_faults={"buggy": "bug"})
        with pytest.raises(KeyError, match="injected bug"):
            SegmentVideo(settings, access(guard))({"uri": str(path), "input_index": 0})


def _segment_with_a_bug(ray_head, tmp_path: Path, **errors: float) -> subprocess.CompletedProcess:
    """`python -m jobs.segment` on two videos, one of which hits an injected KeyError."""
    (tmp_path / "in").mkdir()
    write_scene_video(tmp_path / "in" / "fine.mp4", [1.5], seed=1)
    write_scene_video(tmp_path / "in" / "buggy.mp4", [1.5], seed=2)
    config = tmp_path / "bug.json"
    config.write_text(
        json.dumps(
            {
                "input": {"manifest": str(tmp_path / "in")},
                "output": {"root": str(tmp_path / "out")},
                "decoder": {"inject_faults": {"buggy": "bug"}},
                "errors": errors,
                **OFFLINE,
            }
        )
    )
    env = {**ray_head["env"], "RAY_ADDRESS": ray_head["address"]}
    return subprocess.run(
        [sys.executable, "-m", "jobs.segment", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_bug_in_our_code_fails_the_job_with_its_traceback(ray_head, tmp_path):
    """A corrupt video is one error row (see the matrix below); a stage that raises
    KeyError stops the job non-zero instead of reporting every segment as errored."""
    job = _segment_with_a_bug(ray_head, tmp_path)
    assert job.returncode not in (0, 2, 3), job.stderr[-2000:]
    assert "Traceback" in job.stderr and "KeyError" in job.stderr and "injected bug" in job.stderr
    written = (
        pq.read_table(tmp_path / "out" / "candidates").to_pylist() if (tmp_path / "out" / "candidates").exists() else []
    )
    assert not [r for r in written if "buggy" in r["uri"]]


def test_errors_max_fraction_lets_that_share_of_bugs_through_as_rows_marked_bug(ray_head, tmp_path):
    job = _segment_with_a_bug(ray_head, tmp_path, max_fraction=0.5)
    assert job.returncode == 0, job.stderr[-3000:]
    rows = pq.read_table(tmp_path / "out" / "candidates").to_pylist()
    (buggy,) = [r for r in rows if "buggy" in r["uri"]]
    assert (buggy["status"], buggy["reason"], buggy["error_type"]) == ("error", "bug", "KeyError")
    fine = [r for r in rows if "fine" in r["uri"]]
    assert fine and all(r["status"] != "error" for r in fine)


# --- the bad-input matrix through the real job --------------------------------------------


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w") as c:
        stream = c.add_stream("aac", rate=44100)
        for i in range(30):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)


def _variable_frame_rate(path: Path) -> None:
    steps = [20 if (i // 15) % 2 else 50 for i in range(150)]  # alternating 50 fps and 20 fps stretches
    write_with_pts(
        path, scene_frames(320, 240, 30, [3.0, 3.0]), np.cumsum([0, *steps[:-1]]).tolist(), Fraction(1, 1000)
    )


def _start_offset(path: Path) -> None:
    write_with_pts(path, scene_frames(320, 240, 25, [4.0]), range(75, 175), Fraction(1, 25))  # starts at 3 s


def _corrupt_middle(path: Path) -> None:
    write_scene_video(path, [3.0, 3.0], seed=9)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, shared_videos):
    root = tmp_path_factory.mktemp("matrix")
    inputs, outside = root / "in", root / "outside"
    inputs.mkdir(), outside.mkdir()
    (inputs / "zero_bytes.mp4").write_bytes(b"")
    example = (shared_videos / "example.mp4").read_bytes()
    (inputs / "truncated.mp4").write_bytes(example[: len(example) // 3])
    (inputs / "random_bytes.mp4").write_bytes(
        np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    )
    Image.fromarray(np.full((240, 320, 3), 90, np.uint8)).save(inputs / "image.png")
    (inputs / "image.png").rename(inputs / "image_renamed.mp4")
    _audio_only(inputs / "audio_only.mp4")
    write_video(inputs / "one_frame.mp4", scene_frames(320, 240, 25, [0.04]), 25)
    _corrupt_middle(inputs / "corrupt_middle.mp4")
    _variable_frame_rate(inputs / "vfr.mp4")
    write_scene_video(inputs / "rotated_90.mp4", [3.0], seed=1, rotation=90)
    write_scene_video(inputs / "rotated_180.mp4", [3.0], seed=2, rotation=180)
    write_scene_video(
        inputs / "anamorphic.mp4", [3.0], width=352, height=288, seed=3, sample_aspect_ratio=Fraction(16, 11)
    )
    remux_elementary(write_scene_video(root / "src.mp4", [3.0], seed=4)[0], inputs / "no_duration.h264")
    _start_offset(inputs / "start_offset.mp4")
    write_video(inputs / "extreme_aspect.mp4", scene_frames(804, 2, 25, [3.0]), 25)
    write_video(inputs / "very_high_res.mp4", scene_frames(3840, 2160, 10, [2.5]), 10, crf=40)
    write_scene_video(inputs / "changes_later.mp4", [3.0], seed=5)
    write_scene_video(inputs / "crashes_decoder.mp4", [3.0], seed=6)
    write_scene_video(inputs / "hangs_decoder.mp4", [3.0], seed=7)
    write_scene_video(outside / "elsewhere.mp4", [3.0], seed=8)
    names = sorted(p.name for p in inputs.iterdir())
    rows = [{"uri": str(inputs / n)} for n in names]
    rows += [
        {"uri": str(inputs / "vfr.mp4")},  # a duplicate entry
        {"uri": str(inputs / "missing.mp4")},
        {"uri": str(outside / "elsewhere.mp4")},
        {"uri": f"{inputs}/../outside/elsewhere.mp4"},
    ]
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root, manifest, rows


EXPECTED = {
    "zero_bytes.mp4": ("errored", "probe:ProbeError"),
    "truncated.mp4": ("kept", "sample"),  # the moov survives; the tail is cut
    "random_bytes.mp4": ("errored", "probe:ProbeError"),
    "image_renamed.mp4": ("errored", "probe:ProbeError"),
    "audio_only.mp4": ("errored", "probe:ProbeError"),
    "one_frame.mp4": ("filtered", "too_short"),
    "corrupt_middle.mp4": ("kept", "sample"),
    "vfr.mp4": ("kept", "sample"),
    "rotated_90.mp4": ("kept", "sample"),
    "rotated_180.mp4": ("kept", "sample"),
    "anamorphic.mp4": ("kept", "sample"),
    "no_duration.h264": ("kept", "sample"),
    "start_offset.mp4": ("kept", "sample"),
    "extreme_aspect.mp4": ("filtered", "extreme_aspect_ratio"),
    "very_high_res.mp4": ("kept", "sample"),
    "changes_later.mp4": ("kept", "sample"),
    "crashes_decoder.mp4": ("errored", "probe:DecoderCrashed"),
    "hangs_decoder.mp4": ("errored", "probe:DecoderTimeout"),
}
EXTRA = [  # the entries after the files, in manifest order
    ("filtered", "duplicate_input"),
    ("errored", "probe:InputUnavailable"),
    ("errored", "admission:ForbiddenInput"),
    ("errored", "admission:ForbiddenInput"),
]


def _matrix_config(root: Path, manifest: Path, out: str, **sample) -> dict:
    return {
        "input": {"manifest": str(manifest), "allowed_roots": [str(root / "in")], "chunk_size": 5},
        "output": {"root": str(root / out)},
        "split": {"min_seconds": 1.0, "max_seconds": 10.0},
        "decoder": {
            "timeout_s": 10,
            "retries": 1,
            "inject_faults": {"crashes_decoder": "crash", "hangs_decoder": "hang"},
        },
        "sample": sample,
        **OFFLINE,
    }


@pytest.fixture(scope="module")
def matrix_run(ray_head, matrix):
    root, manifest, rows = matrix
    summary = run(parse_config(_matrix_config(root, manifest, "out")))
    return root, summary, rows


def _outcomes(out: Path) -> list[tuple[str, str]]:
    rows = sorted(pq.read_table(out / "inputs.parquet").to_pylist(), key=lambda r: r["input_index"])
    return [(r["outcome"], r["reason"]) for r in rows]


def test_every_bad_input_ends_with_its_expected_outcome(matrix_run):
    root, summary, rows = matrix_run
    expected = [EXPECTED[Path(r["uri"]).name] for r in rows[: len(EXPECTED)]] + EXTRA
    outcomes = _outcomes(root / "out")
    assert outcomes == expected, [
        (Path(r["uri"]).name, o) for r, o, e in zip(rows, outcomes, expected, strict=True) if o != e
    ]
    v = summary["videos"]
    assert summary["balanced"] and v["kept"] + v["filtered"] + v["errored"] == len(rows) == summary["inputs"]


def test_awkward_videos_become_correct_samples(matrix_run):
    root, _, _ = matrix_run
    samples = {Path(r["source_uri"]).name: r for r in pq.read_table(root / "out" / "dataset").to_pylist()}
    assert (
        samples["rotated_90.mp4"]["probe"]["display_width"],
        samples["rotated_90.mp4"]["probe"]["display_height"],
    ) == (240, 320)
    assert samples["rotated_180.mp4"]["probe"]["rotation"] == 180
    assert samples["anamorphic.mp4"]["probe"]["display_width"] == 512
    assert samples["start_offset.mp4"]["probe"]["start_time"] == pytest.approx(3.0)
    assert samples["no_duration.h264"]["probe"]["probe_backend"] == "pyav"
    high = samples["very_high_res.mp4"]["media"][0]
    assert high["stored_height"] * high["stored_width"] < 3840 * 2160 / 4
    for name in ("rotated_90.mp4", "vfr.mp4", "start_offset.mp4", "very_high_res.mp4"):
        frame = Image.open(root / "out" / samples[name]["videos"][0][0])
        video = samples[name]["media"][0]
        assert (frame.height, frame.width) == (video["stored_height"], video["stored_width"]), name


def test_forbidden_and_crashing_inputs_are_reported_with_their_reason(matrix_run):
    root, _, _ = matrix_run
    rows = pq.read_table(root / "out" / "errors").to_pylist()
    refused = sorted(
        e["error_message"] for e in rows if e["stage"] == "admission" and e["error_type"] == "ForbiddenInput"
    )
    assert len(refused) == 2
    assert "'..' in an input path is refused" in refused[0] and "outside input.allowed_roots" in refused[1]
    errors = {(Path(e["input"]).name, e["stage"], e["error_type"]): e["error_message"] for e in rows}
    assert "decoder process died" in errors[("crashes_decoder.mp4", "probe", "DecoderCrashed")]
    assert "did not finish within" in errors[("hangs_decoder.mp4", "probe", "DecoderTimeout")]


def test_a_file_that_changes_after_probing_is_an_error_not_wrong_frames(matrix_run, matrix):
    """Pass 1 is committed; the file is then replaced and pass 3 redone (new sample
    settings): its segments fail with InputChanged instead of describing other bytes."""
    root, manifest, _ = matrix
    changed = root / "in" / "changes_later.mp4"
    write_scene_video(changed, [1.5, 1.5], seed=10)
    config = _matrix_config(root, manifest, "out")
    summary = run(parse_config({**config, "sample": {"seed": 1}, "output": {**config["output"], "replace": True}}))
    assert summary["chunks"]["segment"]["run"] == 0 and summary["chunks"]["materialize"]["run"] > 0
    assert summary["balanced"]
    errors = [e for e in pq.read_table(root / "out" / "errors").to_pylist() if e["input"].endswith("changes_later.mp4")]
    assert errors and {e["error_type"] for e in errors} == {"InputChanged"}
    assert "changed since it was probed" in errors[0]["error_message"]


# --- resume ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resume_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    rows = []
    for i in range(8):
        path, _ = write_scene_video(root / "in" / f"v{i}.mp4", [2.5, 3.0, 2.0][: 1 + i % 3], seed=i)
        rows.append({"uri": str(path), "description": f"video {i}"})
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root, manifest


def _resume_config(manifest: Path, out: str, storage_options: dict | None = None) -> dict:
    # one video per chunk, small scoring batches: chunks commit one by one
    return {
        "input": {"manifest": str(manifest), "chunk_size": 1},
        "output": {"root": out, "rows_per_shard": 3, "storage_options": storage_options or {}},
        "split": {"min_seconds": 1.0, "max_seconds": 10.0},
        **OFFLINE,
        "scoring": {**OFFLINE["scoring"], "batch_size": 2},
    }


@pytest.fixture(scope="module")
def reference(ray_head, resume_inputs):
    root, manifest = resume_inputs
    summary = run(parse_config(_resume_config(manifest, str(root / "reference"))))
    return root / "reference", summary


def _rows(out: Path | Store) -> list[dict]:
    store = out if isinstance(out, Store) else Store(str(out))
    rows = store.dataset(committed_files(store, "materialize", "dataset"), DATASET).to_table().to_pylist()
    assert len({r["id"] for r in rows}) == len(rows), "duplicate samples"
    return sorted(rows, key=lambda r: r["id"])


def _same(a, b) -> bool:
    """Equal, floats to float32 precision: CLIP scores a segment in whatever batch it lands
    in, and batch composition moves the last bits of a float32 matmul."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_killed_driver_resumes_to_exactly_the_uninterrupted_output(
    where, request, tmp_path, ray_head, resume_inputs, reference
):
    root, manifest = resume_inputs
    store, options = _store_for(where, request, root, "resumed")
    (tmp_path / "resumed.json").write_text(json.dumps(_resume_config(manifest, store.root, options)))
    workdir = tmp_path / "cwd"  # the job writes nothing where it is started
    workdir.mkdir()
    temporaries = set(Path("/tmp").glob("vidcurate-*"))
    env = {**ray_head["env"], "RAY_ADDRESS": ray_head["address"]}
    command = [sys.executable, "-m", "jobs.curate", "--config", str(tmp_path / "resumed.json")]
    driver = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not store.files("_progress/segment", ".json") and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert driver.poll() is None, "the job finished before it could be interrupted"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    committed = len(store.files("_progress/segment", ".json"))
    assert 1 <= committed < 8

    finished = subprocess.run(command, cwd=workdir, env=env, check=False, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    summary = store.read_json("summary.json")
    assert summary["chunks"]["segment"]["committed_before"] == committed
    assert _same(_rows(store), _rows(reference[0]))
    assert summary["videos"] == reference[1]["videos"] and summary["segments"] == reference[1]["segments"]
    for folder, step in (("candidates", "segment"), ("dataset", "materialize"), ("errors", "materialize")):
        assert store.files(folder) == committed_files(store, step, folder), f"{folder}/ holds files no marker lists"
    media = set(store.files("media"))
    for row in _rows(store):
        assert {*(f for frames in row["videos"] for f in frames), *row["video_clips"], *row["images"]} <= media

    again = subprocess.run(command, cwd=workdir, env=env, check=False, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = store.read_json("summary.json")["chunks"]
    assert rerun["segment"]["run"] == 0 and rerun["materialize"]["run"] == 0  # no video work
    assert "Running Dataset" not in again.stderr
    assert _same(_rows(store), _rows(reference[0]))
    assert list(workdir.iterdir()) == [] and set(Path("/tmp").glob("vidcurate-*")) <= temporaries


def test_losing_the_object_store_mid_run_keeps_committed_chunks_and_a_rerun_redoes_the_rest(
    tmp_path, ray_head, resume_inputs, reference
):
    from local_ray import free_port
    from moto.server import ThreadedMotoServer

    _root, manifest = resume_inputs
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing"}
    store = Store("s3://lost/run", options)
    store.fs.mkdir("lost")
    (tmp_path / "lost.json").write_text(json.dumps(_resume_config(manifest, store.root, options)))
    env = {**ray_head["env"], "RAY_ADDRESS": ray_head["address"]}
    command = [sys.executable, "-m", "jobs.curate", "--config", str(tmp_path / "lost.json")]
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not store.files("_progress/segment", ".json") and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert driver.poll() is None, "the job finished before the store could be lost"
    server.stop()  # the store goes away; moto keeps its objects in this process
    try:
        stderr = driver.communicate(timeout=600)[1]
    except subprocess.TimeoutExpired:
        driver.kill()
        raise
    assert driver.returncode != 0, "a run that lost its store must not succeed"

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)  # the store is back
    server.start()
    try:
        markers = store.files("_progress/segment", ".json")
        assert 1 <= len(markers) < 8, stderr[-2000:]
        for marker in markers:  # each committed chunk is whole
            for shard in store.read_json(marker)["files"]:
                assert store.dataset([shard], CANDIDATES).count_rows() >= 1
        finished = subprocess.run(command, env=env, check=False, capture_output=True, text=True, timeout=600)
        assert finished.returncode == 0, finished.stderr[-3000:]
        summary = store.read_json("summary.json")
        assert summary["chunks"]["segment"]["committed_before"] == len(markers)
        assert _same(_rows(store), _rows(reference[0]))
    finally:
        server.stop()


def _store_for(where: str, request, root: Path, name: str) -> tuple[Store, dict]:
    """An output root for a resume test: a folder, or a prefix on the test S3 server."""
    if where == "local":
        return Store(str(root / name)), {}
    s3 = request.getfixturevalue("s3")
    return Store(f"{s3['bucket']('resume')}/{name}", s3["options"]), s3["options"]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_worker_killed_mid_task_is_retried_without_losing_or_duplicating_rows(
    where, request, ray_head, resume_inputs, reference
):
    root, manifest = resume_inputs
    store, options = _store_for(where, request, root, "worker_killed")
    killed: list[str] = []

    def kill_one_decoding_worker() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            listing = subprocess.run(["ps", "-eo", "pid=,args="], check=False, capture_output=True, text=True).stdout
            for line in listing.splitlines():
                pid, _, title = line.strip().partition(" ")
                if title.startswith(("ray::FlatMap", "ray::Map(DecodeKeyframes)")):
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(title)
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_decoding_worker)
    killer.start()
    summary = run(parse_config(_resume_config(manifest, store.root, options)))
    killer.join()
    assert killed, "no decoding worker was seen to kill"
    assert summary["balanced"] and summary["segments"] == reference[1]["segments"]
    assert _same(_rows(store), _rows(reference[0]))
