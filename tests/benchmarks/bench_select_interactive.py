"""The curation loop's select, as a user runs it: `python -m jobs.select` on 100,000 synthetic
candidates (512-d embeddings in planted clusters, 1% near-duplicates), whole commands timed
from start to exit, in one run:

  first    the first select: fits the centroids once and keeps them beside the candidates
  unchanged  the same command again (target: under 3 s)
  change   filters.min_aesthetic moved (target: under 10 s, dedup included), in this process
  on Ray   the same change with dedup.in_process_rows: 0 (a local Ray is started), which
           must write the same selection/

    .venv/bin/python tests/benchmarks/bench_select_interactive.py [--rows 100000] [--out bench_output/select_100k]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from bench_select_1m import REPO, generate  # beside this script, on its path


def select(config: Path, *overrides: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "jobs.select", "--config", str(config), *(f"--set={o}" for o in overrides)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", default="bench_output/select_100k")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    generate(out, args.rows)
    config = out / "select.json"
    config.write_text(
        json.dumps(
            {
                "input": {"manifest": "unused"},
                "output": {"root": str(out / "run"), "rows_per_shard": 100_000},
                "filters": {"min_aesthetic": 4.0, "min_clip_similarity": None},
                "dedup": {"eps": 0.01, "max_per_cluster": 200},
                "ray": {"num_cpus": 2},
            }
        )
    )
    results = {}
    results["first"], _ = select(config)
    results["unchanged"], printed = select(config)
    assert '"unchanged"' in printed, printed
    results["change"], _ = select(config, "filters.min_aesthetic=5.0")
    here = pq.read_table(out / "run" / "selection").sort_by("segment_id")
    (out / "run" / "_progress" / "select.json").unlink()
    results["on Ray"], _ = select(config, "filters.min_aesthetic=5.0", "dedup.in_process_rows=0")
    same = pq.read_table(out / "run" / "selection").sort_by("segment_id").to_pylist() == here.to_pylist()
    for name, seconds in results.items():
        print(f"{name:10s} {seconds:6.1f} s")
    print(f"rows {args.rows}; the in-process and Ray selections are {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
