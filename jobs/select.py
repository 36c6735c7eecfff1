"""Pass 2 alone, re-applying thresholds without touching a video:
`python -m jobs.select --config CONFIG [--set filters.min_aesthetic=5]`.

Reads `candidates/` under output.root and rewrites `selection/`, unless neither the
candidates nor the filter and dedup settings changed since it was last written."""

from __future__ import annotations

import logging
import sys

from cluster.pipeline.run import claimed, on_cluster, open_store
from cluster.pipeline.select_pass import run_select_pass
from cluster.progress import committed_files, record_step, step_digest, step_is_current
from cluster.report.selection_plots import write_selection_report
from cluster.stages.inputs import input_access
from cluster.store import Store
from jobs.config import Config
from jobs.entry import config_job, require
from schemas.layout import RUN

log = logging.getLogger("vidcurate")


def apply(cfg: Config, store: Store) -> dict:
    require(store, ("segment",), "the segment pass (vidcurate segment, or vidcurate run)")
    digest = step_digest(store, "segment", cfg.model_dump(include={"filters", "dedup"}))
    if step_is_current(store, "select", digest):
        log.info("select pass: candidates and thresholds unchanged since the last run; selection/ kept")
        return {"select": "unchanged"}
    outcomes, files = run_select_pass(cfg, store)
    if cfg.dedup.report:
        candidates = committed_files(store, "segment", RUN.candidates)
        write_selection_report(store, files, candidates, input_access(cfg, store.uri()))
    record_step(store, "select", digest, RUN.selection, files)
    return {"select": dict(outcomes)}


def run(cfg: Config) -> dict:
    with claimed(cfg, open_store(cfg)) as store, on_cluster(cfg, store, manifest=[]):
        return apply(cfg, store)


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.select", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
