"""Pipeline throughput on ../shared/videos with a local Ray of 1 and of 2 CPUs.

Each run is `python -m jobs.curate` in a fresh process (its own local Ray); the script
prints wall time, segments per second and the 2-CPU/1-CPU throughput ratio.

    .venv/bin/python tests/benchmarks/bench_ray_scaling.py [--out bench_output/scaling]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "videos"


def run(cpus: int, out: Path) -> tuple[float, dict]:
    config = out / f"cpus{cpus}.yaml"
    config.write_text(
        f"input: {{manifest: '{SHARED}'}}\noutput: {{root: '{out / f'cpus{cpus}'}'}}\n"
        f"split: {{max_seconds: 8}}\nray: {{num_cpus: {cpus}}}\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jobs.curate", "--config", str(config)], check=True, capture_output=True)
    wall = time.perf_counter() - start
    return wall, json.loads((out / f"cpus{cpus}" / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench_output/scaling")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    rates = {}
    for cpus in (1, 2):
        wall, summary = run(cpus, out)
        rates[cpus] = summary["segments"]["total"] / wall
        print(f"{cpus} CPU: {wall:.1f}s wall (Ray start included), {summary['samples']} samples, {rates[cpus]:.2f} segments/s")
    print(f"throughput ratio 2 CPU / 1 CPU: {rates[2] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
