"""Pass 2 at scale: 1,000,000 synthetic 512-d embeddings through the real select pass
(clustering + Ray assignment + per-cluster dedup + caps), beside scikit-learn
`KMeans.fit` on the full in-memory array, in one run.

Each side runs in a fresh child process; this script samples the RSS of that child and
all its descendants (the Ray workers included) every 0.2 s and reports the peak of any one
process and the peak of their sum.

    .venv/bin/python tests/benchmarks/bench_select_1m.py [--rows 1000000] [--out bench_output/select]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from schemas.tables import CANDIDATES  # noqa: E402

DIM, CENTRES, SHARD = 512, 1000, 50_000
VIDEO = REPO.parent / "shared" / "videos" / "testvideo.mp4"
PROBE = {"display_width": 1280, "display_height": 720, "start_time": 0.0, "rotation": 0}


def generate(out: Path, rows: int) -> None:
    """Planted clusters, rows grouped by 'video' like real candidates, 1% exact-ish dups."""
    folder = out / "run" / "candidates"
    if folder.exists():
        return
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(CENTRES, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    for shard, start in enumerate(range(0, rows, SHARD)):
        n = min(SHARD, rows - start)
        labels = np.repeat(rng.integers(0, CENTRES, size=n // 10 + 1), 10)[:n]
        x = centres[labels] + rng.normal(scale=0.5 / np.sqrt(DIM), size=(n, DIM)).astype(np.float32)
        x[1::100] = x[0::100][: len(x[1::100])] + 1e-3 * rng.normal(size=(len(x[1::100]), DIM)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        ids = [f"s{start + i:08d}" for i in range(n)]
        columns = {name: pa.nulls(n, CANDIDATES.field(name).type) for name in CANDIDATES.names}
        # every row a 2 s piece of one real video, so the report's duplicate pairs can show keyframes
        starts = np.arange(start, start + n) % 20.0
        columns.update(
            segment_id=pa.array(ids),
            video_id=pa.array([f"v{(start + i) // 10:07d}" for i in range(n)]),
            uri=pa.array([str(VIDEO)] * n),
            status=pa.array(["ok"] * n),
            start_s=pa.array(starts),
            end_s=pa.array(starts + 2.0),
            keyframe_times=pa.array([[t + 1.0] for t in starts], pa.list_(pa.float64())),
            probe=pa.array([PROBE] * n, CANDIDATES.field("probe").type),
            display_aspect_ratio=pa.array(np.full(n, 16 / 9)),
            aesthetic=pa.array(rng.uniform(3, 7, n)),
            embedding=pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32) * DIM), pa.array(x.ravel())),
        )
        columns["embedding"] = columns["embedding"].cast(CANDIDATES.field("embedding").type)
        pq.write_table(pa.table(columns, schema=CANDIDATES), folder / f"part-{shard:05d}.parquet")
    commit(out / "run", rows)


def commit(root: Path, rows: int) -> None:
    """Markers for the generated shards, as a finished segment pass writes them."""
    from cluster.progress import record_pass
    from cluster.store import Store

    store = Store(str(root))
    files = store.files("candidates", ".parquet")
    store.write_json("_progress/segment/c00000.json", {"chunk": 0, "digest": "bench", "ids": [], "files": files})
    record_pass(store, "segment", {"chunks": 1}, rows)


def run_select(out: Path) -> dict:
    from cluster.pipeline.select_pass import run_select_pass
    from cluster.ray_session import connect
    from cluster.store import Store
    from jobs.config import parse_config

    cfg = parse_config(
        {
            "input": {"manifest": "unused"},
            "output": {"root": str(out / "run"), "rows_per_shard": 100_000},
            "filters": {"min_aesthetic": None, "min_clip_similarity": None},
            "dedup": {"eps": 0.01, "max_per_cluster": 2000, "report": False},
            "ray": {"num_cpus": 2},
        }
    )
    connect(None, 2)
    start = time.perf_counter()
    outcomes, _ = run_select_pass(cfg, Store(str(out / "run")), in_process=False)
    return {"wall_s": time.perf_counter() - start, "outcomes": dict(outcomes)}


def run_sklearn(out: Path) -> dict:
    from sklearn.cluster import KMeans

    table = pq.read_table(out / "run" / "candidates", columns=["embedding"])
    x = table.column("embedding").combine_chunks().flatten().to_numpy().reshape(-1, DIM)
    k = round(np.sqrt(len(x) / 2))
    start = time.perf_counter()
    model = KMeans(n_clusters=k, n_init=1, max_iter=10, random_state=0).fit(x)
    return {"wall_s": time.perf_counter() - start, "k": k, "iterations": int(model.n_iter_)}


def _tree_rss_kb(root: int) -> dict[str, int]:
    """VmRSS (kB) of `root` and every descendant, by 'pid name', read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier and pid not in tree]
        tree.update(frontier)
    sizes = {}
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            name = next(x for x in status if x.startswith("Name:")).split()[1]
            sizes[f"{pid} {name}"] = int(next(x for x in status if x.startswith("VmRSS:")).split()[1])
        except (OSError, StopIteration):
            continue
    return sizes or {"none": 0}


def measured(kind: str, out: Path) -> dict:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, "--out", str(out)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    peak_sum = 0
    peaks: dict[str, int] = {}
    while proc.poll() is None:
        rss = _tree_rss_kb(proc.pid)
        peak_sum = max(peak_sum, sum(rss.values()))
        for name, kb in rss.items():
            peaks[name] = max(peaks.get(name, 0), kb)
        time.sleep(0.2)
    top = sorted(peaks.items(), key=lambda item: -item[1])[:4]
    peak_one = top[0][1]
    lines = [line for line in proc.stdout.read().splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"error": proc.returncode}
    return {
        **result,
        "peak_rss_one_process_mb": peak_one / 1024,
        "peak_rss_all_processes_mb": peak_sum / 1024,
        "largest_processes_mb": {name: round(kb / 1024) for name, kb in top},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="bench_output/select")
    parser.add_argument("--child", choices=["select", "sklearn"])
    parser.add_argument("--sides", default="select,sklearn", help="which sides to run, comma-separated")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    if args.child:
        print(json.dumps(run_select(out) if args.child == "select" else run_sklearn(out)))
        return
    generate(out, args.rows)
    for kind in args.sides.split(","):
        print(kind, json.dumps(measured(kind, out)))


if __name__ == "__main__":
    main()
