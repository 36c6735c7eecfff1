"""Long-run health: memory per Ray worker stays flat over hundreds of videos.

Generates `--videos` short multi-scene videos (each yields segments), runs the whole job
on a local 2-CPU Ray, and samples the resident memory of every Ray worker process and
decoder child twice a second (from /proc). For each process that lived through at least a third of the
run it reports the RSS early in its life (10-20% in, after model loading), at the end (last
10%), and its peak.

    .venv/bin/python tests/benchmarks/bench_long_run.py [--videos 240] [--out bench_output/long_run]
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path

from cluster.video.synth import write_scene_video
from jobs.config import parse_config
from jobs.curate import run

SAMPLE_S = 0.5


def build(out: Path, count: int) -> Path:
    rows = []
    for i in range(count):
        path, _ = write_scene_video(
            out / "videos" / f"v{i:04d}.mp4", [1.6, 1.4 + (i % 3) * 0.5], width=192, height=144, seed=i
        )
        rows.append({"uri": str(path.resolve()), "description": f"synthetic video {i}"})
    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.samples: dict[int, list[tuple[float, float, str]]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.monotonic()
            for pid, title, rss in _processes():
                if title.startswith("ray::") or "cluster.video.guard" in title:
                    label = "decoder child" if "cluster.video.guard" in title else title.split(" ")[0]
                    self.samples.setdefault(pid, []).append((now, rss, label))
            time.sleep(SAMPLE_S)


def _processes():
    """(pid, command line, resident MB) of every process, from /proc (Linux)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            rss_kb = next(
                int(line.split()[1])
                for line in (entry / "status").read_text().splitlines()
                if line.startswith("VmRSS:")
            )
        except (OSError, StopIteration):
            continue
        yield int(entry.name), title, rss_kb / 1024


def report(samples: dict[int, list[tuple[float, float, str]]], start: float, end: float) -> list[dict]:
    """Per process alive for a third of [start, end]: RSS early, late and at peak within it."""
    rows = []
    for pid, everything in samples.items():
        series = [s for s in everything if start <= s[0] <= end]
        if not series:
            continue
        life = series[-1][0] - series[0][0]
        if life < (end - start) / 3 or len(series) < 10:
            continue
        tenth = max(1, len(series) // 10)
        warm = series[tenth : 2 * tenth]  # after model loading and the first videos
        labels = sorted({s[2] for s in series if s[2] not in ("ray::IDLE",)}) or ["ray::IDLE"]
        rows.append(
            {
                "pid": pid,
                "process": ", ".join(labels)[:80],
                "life_s": round(life, 1),
                "rss_start_mb": round(max(s[1] for s in warm), 1),
                "rss_end_mb": round(max(s[1] for s in series[-tenth:]), 1),
                "rss_peak_mb": round(max(s[1] for s in series), 1),
            }
        )
    return sorted(rows, key=lambda r: -r["life_s"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=240)
    parser.add_argument("--out", default="bench_output/long_run")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out / "run", ignore_errors=True)
    manifest = build(out, args.videos)
    cfg = parse_config(
        {
            "input": {"manifest": str(manifest), "chunk_size": 32},
            "output": {"root": str(out / "run"), "rows_per_shard": 500},
            "split": {"min_seconds": 1.0, "max_seconds": 10.0},
            "scoring": {"preset": "random", "keyframes": 2},
            "filters": {"min_aesthetic": None, "min_clip_similarity": None},
            "dedup": {"eps": 0.001},
            "ray": {"num_cpus": 2},
        }
    )
    sampler = Sampler()
    sampler.start()
    start = time.monotonic()
    summary = run(cfg)
    end = time.monotonic()
    sampler.stop.set()
    sampler.join()
    print(
        f"{args.videos} videos -> {summary['segments']['total']} segments, "
        f"{summary['samples']} samples in {end - start:.0f} s"
    )
    segment_end = start + summary["timings_s"]["segment"]
    for title, window in (
        ("pass 1 (every video decoded, cut, keyframed, scored)", (start, segment_end)),
        ("whole run", (start, end)),
    ):
        print(f"\n{title}\n{'process':60s} {'life s':>7s} {'start MB':>9s} {'end MB':>7s} {'peak MB':>8s}")
        for r in report(sampler.samples, *window):
            print(
                f"{r['process']:60s} {r['life_s']:7.1f} {r['rss_start_mb']:9.1f} "
                f"{r['rss_end_mb']:7.1f} {r['rss_peak_mb']:8.1f}"
            )


if __name__ == "__main__":
    main()
