"""Pass 2 alone, re-applying thresholds without touching a video:
`python -m jobs.select --config CONFIG [--set filters.min_aesthetic=5]`.

Reads `candidates/` under output.root and rewrites `selection/`, unless neither the
candidates nor the filter and dedup settings changed since it was last written."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from cluster.pipeline.select_pass import run_select_pass
from cluster.progress import record_step, step_digest, step_is_current
from jobs.config import Config
from jobs.entry import config_job, require
from jobs.ray_session import connect

log = logging.getLogger("vidcurate")


def apply(cfg: Config, out_root: Path) -> dict:
    require(out_root, ("candidates",), "the segment pass (vidcurate segment, or vidcurate run)")
    digest = step_digest(out_root, "segment", cfg.model_dump(include={"filters", "dedup"}))
    if step_is_current(out_root, "select", digest):
        log.info("select pass: candidates and thresholds unchanged since the last run; selection/ kept")
        return {"select": "unchanged"}
    outcomes = run_select_pass(cfg, out_root)
    record_step(out_root, "select", digest)
    return {"select": dict(outcomes)}


def run(cfg: Config) -> dict:
    connect(cfg.ray.address, cfg.ray.num_cpus)
    return apply(cfg, Path(cfg.output.root))


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.select", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
