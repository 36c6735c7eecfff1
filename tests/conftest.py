"""Fixtures both layers share: the shared sample videos, and for tests/e2e one Ray head for
the whole session and an S3-compatible server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from local_ray import RAY, free_port

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_videos() -> Path:
    videos = SHARED / "videos"
    if not videos.is_dir():
        # CI always has ../shared: a test that needs it must fail there, never skip
        if os.environ.get("VIDCURATE_CI"):
            pytest.fail(f"{videos} is absent, and CI (VIDCURATE_CI) always has it beside the checkout")
        pytest.skip("../shared/videos is absent")
    return videos


@pytest.fixture(scope="session")
def ray_head():
    """A real head node on 127.0.0.1 (`ray start --head`), joined by this process; the same
    cluster serves in-process pipeline runs and `ray job submit` tests. Stopped at the end."""
    import ray

    # the cluster's `python` (a job's entrypoint) is this interpreter, as on a real node
    # whose environment has vidcurate installed, even when the venv is not activated
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    # metrics reach the export endpoint within a second or two instead of ten
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PATH": path, "RAY_metrics_report_interval_ms": "1000"}
    os.environ["RAY_AUTH_MODE"] = "disabled"
    port, dashboard_port, metrics_port = free_port(), free_port(), free_port()
    started = subprocess.run(
        [
            RAY,
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard_port}",
            f"--metrics-export-port={metrics_port}",
            "--num-cpus=2",
            "--disable-usage-stats",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        pytest.fail(f"ray start --head failed (is another Ray running on this machine?):\n{started.stderr[-2000:]}")
    try:
        ray.init(address=f"127.0.0.1:{port}")
        yield {
            "address": f"127.0.0.1:{port}",
            "dashboard": f"http://127.0.0.1:{dashboard_port}",
            "metrics": f"http://127.0.0.1:{metrics_port}/metrics",
            "env": env,
        }
    finally:
        ray.shutdown()
        subprocess.run([RAY, "stop", "--force"], env=env, check=False, capture_output=True)


@pytest.fixture(scope="session")
def s3():
    """An S3-compatible server on 127.0.0.1 (moto's, speaking the real S3 protocol over a
    real socket: no real object store runs here). Yields the storage options that reach it
    and a function that creates a bucket and returns its s3:// URI."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing"}

    def bucket(name: str) -> str:
        import fsspec

        fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
        if not fs.exists(name):
            fs.mkdir(name)
        return f"s3://{name}"

    try:
        yield {"options": options, "bucket": bucket, "server": server, "port": port}
    finally:
        server.stop()
