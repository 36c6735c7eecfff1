"""The README's demo: generate sample videos, write a manifest and config, run the job.

`python -m jobs.demo [--out demo_output]` needs nothing outside the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from cluster.video.synth import write_scene_video
from jobs.config import parse_config
from jobs.curate import run

# (file, scene lengths in seconds, size, text) — one long multi-scene video, one vertical
# phone-style clip, one too short to keep, and a broken file, so every outcome shows up.
SAMPLES: list[tuple[str, list[float], tuple[int, int], str | None]] = [
    ("city_tour.mp4", [6, 3, 8, 25], (640, 360), "A tour through brightly coloured city blocks."),
    ("phone_clip.mp4", [5, 4], (360, 640), None),
    ("blink.mp4", [1.2], (320, 240), "A very short flash."),
]


# everything but input and output: the demo's settings, also what the speed-of-light
# benchmark runs
OFFLINE_SECTIONS: dict = {
    "split": {"min_seconds": 2.0, "max_seconds": 10.0},
    "tokens": {"consumer": "llamafactory", "family": "qwen2.5-vl"},
    # offline: real architectures, random weights, so score thresholds stay off and
    # dedup removes only near-identical segments
    "scoring": {"preset": "random"},
    "filters": {"min_aesthetic": None, "min_clip_similarity": None},
    "dedup": {"eps": 0.001},
    # offline: a tiny randomly initialised Qwen2-VL writes the captions (marked
    # random_weights: meaningless text), so its quality gates stay off too
    "caption": {
        "backend": "tiny-random",
        "generation": {"max_new_tokens": 48, "short_max_new_tokens": 16},
        "gates": {
            "min_chars": None,
            "reject_truncated": False,
            "max_repetition": None,
            "min_clip_similarity": None,
        },
    },
}


def build_demo(out: Path) -> Path:
    videos = out / "videos"
    rows = []
    for seed, (name, scenes, (w, h), text) in enumerate(SAMPLES):
        path = videos / name
        if not path.exists():  # a rerun resumes on the same files
            write_scene_video(path, scenes, width=w, height=h, fps=25, seed=seed)
        rows.append({"uri": str(path.resolve()), "description": text})
    broken = videos / "not_a_video.mp4"
    broken.write_text("this is not a video\n")
    rows.append({"uri": str(broken.resolve())})
    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.demo", description=__doc__)
    parser.add_argument("--out", default="demo_output", help="where videos and results go")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    manifest = build_demo(out)
    cfg = parse_config(
        {
            "input": {"manifest": str(manifest)},
            # the demo's own output: a rerun under a newer demo config replaces it
            "output": {"root": str(out / "run"), "rows_per_shard": 4, "media": "both", "replace": True},
            **OFFLINE_SECTIONS,
        },
        "demo config",
    )
    summary = run(cfg)
    print(json.dumps(summary, indent=2))
    root = out / "run"
    print(
        f"samples in {root / 'dataset'}; accounting in {root / 'summary.json'}; report in {root / 'report/index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
