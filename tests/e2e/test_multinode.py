"""A run that spans nodes: a head that runs no tasks and a worker node whose filesystem view
differs from the head's (its own mount namespace, with a private tmpfs over /tmp, where the
tests' folders are). Every CPU task and actor runs on the worker, so a write that only the
writing node can see breaks the dataset. With an object-store root the run is complete and
correct; a local root is refused, and shown to lose the media when declared shared anyway."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from http_servers import folder_server
from local_ray import RAY, free_port
from offline_runs import OFFLINE_ALL_SEGMENTS

from cluster.progress import committed_files
from cluster.store import Store
from schemas.tables import DATASET

VIDEOS = ("chaplin.mp4", "testvideo.mp4")
OFFLINE = {
    **OFFLINE_ALL_SEGMENTS,
    # a tiny random captioner writes noise: its quality gates stay off
    "caption": {
        "backend": "tiny-random",
        "batch_size": 2,
        "gates": {"min_chars": None, "reject_truncated": False, "max_repetition": None, "min_clip_similarity": None},
    },
}


def _start(command: list[str], env: dict) -> subprocess.Popen:
    """A `ray start --block` in a process group of its own, so the test stops exactly the
    Ray processes it started (by their group), not the session's head."""
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _alive_nodes(address: str, env: dict) -> int:
    probe = (
        f"import ray; ray.init(address={address!r}, logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=False, capture_output=True, text=True, timeout=60
    )
    return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else 0


@pytest.fixture(scope="module")
def two_nodes(ray_head, tmp_path_factory):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("the multi-node test needs root and unshare(1) to give the worker node its own mount namespace")
    port = free_port()
    address = f"127.0.0.1:{port}"
    env = {**ray_head["env"], "RAY_ADDRESS": ""}
    env.pop("RAY_ADDRESS")
    head = _start(
        [
            RAY,
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=0",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env,
    )
    # the worker sees a /tmp of its own: the head's /tmp (the tests' folders) is not there;
    # an address of its own on loopback, so no process mistakes it for the head's node
    worker_command = (
        f"mount -t tmpfs tmpfs /tmp && exec {RAY} start --block --address={address} "
        "--node-ip-address=127.0.0.2 --num-cpus=2 --disable-usage-stats"
    )
    worker = _start(["unshare", "--mount", "--propagation", "private", "sh", "-c", worker_command], env)
    try:
        deadline = time.monotonic() + 120
        while _alive_nodes(address, env) < 2:
            assert time.monotonic() < deadline, "the worker node did not join the head"
            assert head.poll() is None and worker.poll() is None, "a Ray node exited while starting"
            time.sleep(1)
        yield {"address": address, "env": {**env, "RAY_ADDRESS": address}}
    finally:
        _stop(worker)
        _stop(head)


def _job(
    two_nodes: dict, tmp_path: Path, shared_videos: Path, output: dict, where: str | None = None
) -> subprocess.CompletedProcess:
    """The job on VIDEOS, read from ../shared or from `where` (a URL the videos are under)."""
    manifest = tmp_path / "manifest.jsonl"
    uris = [f"{where}/{v}" if where else str(shared_videos / v) for v in VIDEOS]
    manifest.write_text("".join(json.dumps({"uri": u, "description": Path(u).name}) + "\n" for u in uris))
    config = {
        "input": {"manifest": str(manifest), "chunk_size": 1},
        "output": {"rows_per_shard": 4, **output},
        "split": {"min_seconds": 1.0, "max_seconds": 8.0},
        **OFFLINE,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "jobs.curate", "--config", str(path)],
        cwd=tmp_path,
        env=two_nodes["env"],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _samples(store: Store) -> list[dict]:
    return store.dataset(committed_files(store, "materialize", "dataset"), DATASET).to_table().to_pylist()


def _media(row: dict) -> set[str]:
    return {*(f for frames in row["videos"] for f in frames), *row["video_clips"], *row["images"]}


@pytest.fixture(scope="module")
def s3_run(two_nodes, s3, tmp_path_factory, shared_videos):
    store = Store(f"{s3['bucket']('multinode')}/run", s3["options"])
    job = _job(
        two_nodes,
        tmp_path_factory.mktemp("s3_run"),
        shared_videos,
        {"root": store.root, "storage_options": s3["options"], "media": "both"},
    )
    assert job.returncode == 0, job.stderr[-4000:]
    return store


def test_an_object_store_root_gives_a_complete_dataset_when_the_work_runs_on_another_node(s3_run):
    store = s3_run
    summary = store.read_json("summary.json")
    assert summary["balanced"] and summary["samples"] > 0, summary
    samples = _samples(store)
    assert len(samples) == summary["samples"]
    media = set(store.files("media"))
    for row in samples:
        assert _media(row) <= media, f"{row['id']} names media that are not in the store"
        assert row["caption_status"] == "random_weights" and row["caption_detailed"]
    assert store.exists("report/index.html") and store.exists("trainer_args.json")


def test_report_and_export_read_a_remote_root_and_export_brings_the_media_down(s3_run, s3, tmp_path):
    store = s3_run
    where = ["--root", store.root, *(f"--storage-option={k}={v}" for k, v in s3["options"].items())]
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    report = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "report", *where], env=env, check=False, capture_output=True, text=True
    )
    assert report.returncode == 0 and "s3://multinode/run/report/index.html" in report.stdout, report.stderr[-2000:]
    out = tmp_path / "swift"
    command = [sys.executable, "-m", "jobs.cli", "export", *where, "--format", "ms-swift", "--out", str(out)]
    first = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    entries = [json.loads(line) for line in (out / "vidcurate.jsonl").read_text().splitlines()]
    assert len(entries) == len(_samples(store))
    for entry in entries:
        paths = [p for frames in entry["videos"] for p in frames] + entry.get("images", [])
        assert paths and all(Path(p).is_file() and Path(p).is_relative_to(out) for p in paths)
    assert "media from s3://multinode/run" in first.stderr  # the progress bar
    copied = {p: p.stat().st_mtime_ns for p in (out / "media").rglob("*.jpg")}
    victim = next(iter(copied))
    victim.unlink()  # an interrupted copy: the rerun fetches only what is missing
    again = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert victim.is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in copied.items() if p != victim)
    beside = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "export", *where, "--format", "ms-swift"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    assert beside.returncode == 0, beside.stderr[-2000:]
    exported = [json.loads(line) for line in store.read_text("exports/ms-swift/vidcurate.jsonl").splitlines()]
    assert len(exported) == len(entries) and exported[0]["videos"][0][0].startswith("s3://multinode/run/media/")


def test_the_dataset_is_plain_parquet_for_pyarrow_s_own_s3_client(s3_run, s3):
    import pyarrow.dataset as pads
    from pyarrow.fs import S3FileSystem

    fs = S3FileSystem(
        endpoint_override=s3["options"]["endpoint_url"],
        access_key="testing",
        secret_key="testing",
        scheme="http",
        region="us-east-1",
    )
    table = pads.dataset("multinode/run/dataset", filesystem=fs, format="parquet").to_table()
    assert table.num_rows == s3_run.read_json("summary.json")["samples"]


def test_a_local_root_on_several_nodes_is_refused_before_any_work(two_nodes, tmp_path, shared_videos):
    job = _job(two_nodes, tmp_path, shared_videos, {"root": str(tmp_path / "out")})
    assert job.returncode == 2, job.stderr[-3000:]
    assert "2 nodes" in job.stderr and "output.shared_mount" in job.stderr
    assert not (tmp_path / "out" / "candidates").exists()


def test_a_root_declared_shared_that_is_not_loses_the_media_the_worker_wrote(two_nodes, tmp_path, shared_videos):
    """What the refusal prevents, shown on this cluster: what the worker writes lands on its
    own /tmp, so the run either fails or leaves rows on the head that point at nothing."""
    root = tmp_path / "out"
    job = _job(two_nodes, tmp_path, shared_videos, {"root": str(root), "shared_mount": True})
    samples = _samples(Store(str(root))) if job.returncode == 0 else []
    assert job.returncode != 0 or not any((root / path).exists() for row in samples for path in _media(row)), (
        "the worker node's writes were visible to the head"
    )


def _worker_tmp(two_nodes: dict) -> list[str]:
    """What the worker node's own /tmp holds of vidcurate's input caches."""
    probe = (
        f"import glob, ray; ray.init(address={two_nodes['address']!r}, logging_level='ERROR'); "
        "print(ray.get(ray.remote(num_cpus=1)(lambda: sorted(glob.glob('/tmp/vidcurate-cache-*'))).remote()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=two_nodes["env"], check=True, capture_output=True, text=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_remote_inputs_are_fetched_once_on_the_worker_node_and_its_cache_is_swept(
    two_nodes, s3, tmp_path, shared_videos
):
    (tmp_path / "www").mkdir()
    for name in VIDEOS:
        shutil.copy(shared_videos / name, tmp_path / "www" / name)
    store = Store(f"{s3['bucket']('multinode')}/remote", s3["options"])
    with folder_server(tmp_path / "www") as server:
        job = _job(
            two_nodes, tmp_path, shared_videos, {"root": store.root, "storage_options": s3["options"]}, server.url
        )
    assert job.returncode == 0, job.stderr[-4000:]
    summary = store.read_json("summary.json")
    assert summary["balanced"] and summary["videos"]["kept"] == len(VIDEOS), summary
    assert all(server.gets(f"/{name}") == 1 for name in VIDEOS), server.requests
    assert _worker_tmp(two_nodes) == [], "the run's cache on the worker node was swept"
