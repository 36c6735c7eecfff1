"""The pipeline with an object-store root against a local root, on the same inputs in one
script: wall time (target: the S3 root at most 1.25x the local one), bytes written per
sample, and the requests each pass makes per chunk. Also what the captioner's hand-off
costs: the frames carried in the block (decode the JPEG bytes) against reading them back
from the store (a GET per frame, then decode).

The store is moto's S3 server on 127.0.0.1 (the real S3 protocol over a real socket), with
a WSGI wrapper that counts requests and bytes uploaded. Each timed run is the real
`jobs.curate` on one local Ray, alternating local and S3 roots, `--rounds` times each; one
more S3 run goes pass by pass (`jobs.segment`, `jobs.select`, `jobs.materialize`) to count
each pass's requests.

    .venv/bin/python tests/benchmarks/bench_object_store.py [--rounds 3] [--out bench_output/object_store]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import fsspec
import ray
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from cluster.store import Store
from cluster.video.media import decode_jpegs
from jobs import materialize, segment, select
from jobs.config import parse_config
from jobs.curate import run

SHARED = Path(__file__).resolve().parents[3] / "shared" / "videos"
VIDEOS = ("chaplin.mp4", "testvideo.mp4", "example.mp4", "counter.mp4", "big_buck_bunny_0_30.webm", "fades.mp4")


class CountingS3:
    """moto's S3 app behind a counter of requests (by method) and bytes uploaded (media or
    tables and markers)."""

    def __init__(self) -> None:
        self.requests: Counter = Counter()
        self.uploaded: Counter = Counter()
        app = DomainDispatcherApplication(create_backend_app)

        def counting(environ, start_response):
            self.requests[environ["REQUEST_METHOD"]] += 1
            if environ["REQUEST_METHOD"] in ("PUT", "POST"):
                kind = "media" if "/media/" in environ["PATH_INFO"] else "tables"
                self.uploaded[kind] += int(environ.get("CONTENT_LENGTH") or 0)
            return app(environ, start_response)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = make_server("127.0.0.1", self.port, counting, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.options = {"endpoint_url": f"http://127.0.0.1:{self.port}", "key": "bench", "secret": "bench"}
        fsspec.filesystem("s3", **self.options).mkdir("bench")

    def reset(self) -> None:
        self.requests.clear()
        self.uploaded.clear()


def config(manifest: Path, root: str, options: dict) -> dict:
    return {
        "input": {"manifest": str(manifest), "chunk_size": 1},
        "output": {"root": root, "storage_options": options, "media": "both"},
        "split": {"max_seconds": 8},
        "scoring": {"preset": "random", "keyframes": 2},
        "filters": {"min_aesthetic": None, "min_clip_similarity": None},
        # the tiny random captioner writes noise: its quality gates stay off, as in the demo
        "caption": {
            "backend": "tiny-random",
            "batch_size": 4,
            "gates": {
                "min_chars": None,
                "reject_truncated": False,
                "max_repetition": None,
                "min_clip_similarity": None,
            },
        },
    }


def handoff(store: Store, frames: list[str]) -> tuple[float, float]:
    """Seconds per frame: decode JPEG bytes already in hand, and GET then decode."""
    payloads = [store.read_bytes(f) for f in frames]
    start = time.perf_counter()
    decode_jpegs(payloads)
    in_block = (time.perf_counter() - start) / len(frames)
    start = time.perf_counter()
    decode_jpegs(store.read_bytes(f) for f in frames)
    read_back = (time.perf_counter() - start) / len(frames)
    return in_block, read_back


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="bench_output/object_store")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"uri": str(SHARED / v)}) + "\n" for v in VIDEOS))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    s3 = CountingS3()
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"ARROW_DEFAULT_MEMORY_POOL": "system"}})
    run(parse_config(config(manifest, str(out / "warmup"), {})))  # model builds and caches, worker start-up

    times: dict[str, list[float]] = {"local": [], "s3": []}
    samples = 0
    for i in range(args.rounds):
        for where in ("local", "s3"):
            root = str(out / f"local{i}") if where == "local" else f"s3://bench/run{i}"
            start = time.perf_counter()
            samples = run(parse_config(config(manifest, root, s3.options if where == "s3" else {})))["samples"]
            times[where].append(time.perf_counter() - start)
            print(f"{where} round {i}: {times[where][-1]:.1f} s, {samples} samples")
    local, remote = statistics.median(times["local"]), statistics.median(times["s3"])
    print(
        f"\nwall time: local {local:.1f} s, s3 {remote:.1f} s (medians of {args.rounds}); "
        f"s3/local = {remote / local:.2f}"
    )

    # one more S3 run, pass by pass, to count each pass's requests and bytes
    cfg = parse_config(config(manifest, "s3://bench/passes", s3.options))
    chunks = len(VIDEOS)
    print(f"per pass on S3 ({chunks} chunks of one video; select is one step; materialize includes the report):")
    for name, job in (("segment", segment.run), ("select", select.run), ("materialize", materialize.run)):
        s3.reset()
        job(cfg)
        requests = dict(sorted(s3.requests.items()))
        shown = {m: round(n / chunks, 1) for m, n in requests.items()} if name != "select" else requests
        print(
            f"  {name}: requests {'per chunk ' if name != 'select' else ''}{shown}; uploaded: media "
            f"{s3.uploaded['media'] / samples / 1024:.0f} KiB, "
            f"tables and markers {s3.uploaded['tables'] / samples / 1024:.1f} KiB per sample"
        )
    store = Store("s3://bench/passes", s3.options)
    frames = [f for f in store.files("media", ".jpg") if "/image/" not in f][:200]
    in_block, read_back = handoff(store, frames)
    print(
        f"captioner hand-off per frame ({len(frames)} frames): bytes in the block {in_block * 1e3:.2f} ms, "
        f"read back from the store {read_back * 1e3:.2f} ms ({read_back / in_block:.1f}x)"
    )
    ray.shutdown()
    os._exit(0)  # the WSGI server thread


if __name__ == "__main__":
    main()
