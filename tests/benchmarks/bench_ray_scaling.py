"""Pipeline throughput on ../shared/videos with a local Ray of 1 and of 2 CPUs.

The shared videos are linked three times under distinct names (21 inputs), and each run
is `python -m jobs.curate` in a fresh process with its own local Ray. Throughput is
segments per second over the three passes (Ray's start-up excluded, from summary.json's
timings); the script prints both and the 2-CPU/1-CPU ratio.

    .venv/bin/python tests/benchmarks/bench_ray_scaling.py [--out bench_output/scaling]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "videos"
COPIES = 3


def inputs(out: Path) -> Path:
    folder = out / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    for copy in range(COPIES):
        for video in SHARED.iterdir():
            link = folder / f"{copy}_{video.name}"
            if not link.exists():
                link.symlink_to(video)
    return folder


def run(cpus: int, out: Path, manifest: Path) -> dict:
    config = out / f"cpus{cpus}.json"
    config.write_text(
        json.dumps(
            {
                "input": {"manifest": str(manifest)},
                "output": {"root": str(out / f"cpus{cpus}")},
                "split": {"max_seconds": 8},
                "scoring": {"preset": "random", "keyframes": 2},
                "filters": {"min_aesthetic": None, "min_clip_similarity": None},
                "ray": {"num_cpus": cpus},
            }
        )
    )
    subprocess.run([sys.executable, "-m", "jobs.curate", "--config", str(config)], check=True, capture_output=True)
    return json.loads((out / f"cpus{cpus}" / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench_output/scaling")
    out = Path(parser.parse_args().out)
    manifest = inputs(out)
    rates = {}
    for cpus in (1, 2):
        summary = run(cpus, out, manifest)
        seconds = sum(summary["timings_s"].values())
        rates[cpus] = summary["segments"]["total"] / seconds
        print(
            f"{cpus} CPU: {seconds:.1f}s in the passes {summary['timings_s']}, "
            f"{summary['segments']['total']} segments, {rates[cpus]:.2f} segments/s"
        )
    print(f"throughput ratio 2 CPU / 1 CPU: {rates[2] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
