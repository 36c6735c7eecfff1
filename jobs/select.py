"""Pass 2 alone, re-applying thresholds without touching a video:
`python -m jobs.select --config CONFIG [--set filters.min_aesthetic=5]`.

Reads `candidates/` under output.root and rewrites `selection/`, unless neither the
candidates nor the filter and dedup settings changed since it was last written. That is
decided from one listing before anything heavy is imported, so an unchanged select returns
at once; up to dedup.in_process_rows candidates the pass then runs in this process, without
starting Ray."""

from __future__ import annotations

import logging
import sys

from cluster.progress import pass_rows, step_digest, step_is_current
from cluster.store import Store, output_store
from jobs.config import Config
from jobs.entry import config_job, require
from schemas.digest import shaping

log = logging.getLogger("vidcurate")


def selection_digest(cfg: Config, store: Store) -> str:
    """What selection/ is made from: the committed candidates and the select settings."""
    return step_digest(store, "segment", {"filters": shaping(cfg.filters), "dedup": shaping(cfg.dedup)})


def in_process(cfg: Config, store: Store) -> bool:
    rows = pass_rows(store, "segment")
    return rows is not None and rows <= cfg.dedup.in_process_rows


def apply(cfg: Config, store: Store) -> dict:
    require(store, ("segment",), "the segment pass (vidcurate segment, or vidcurate run)")
    digest = selection_digest(cfg, store)
    if step_is_current(store, "select", digest):
        log.info("select pass: candidates and thresholds unchanged since the last run; selection/ kept")
        return {"select": "unchanged"}
    from cluster.pipeline.select_pass import run_select_pass
    from cluster.progress import committed_files, record_step
    from cluster.report.selection_plots import write_selection_report
    from cluster.stages.inputs import input_access
    from schemas.layout import RUN

    outcomes, files = run_select_pass(cfg, store, in_process(cfg, store))
    if cfg.dedup.report:
        candidates = committed_files(store, "segment", RUN.candidates)
        write_selection_report(store, files, candidates, input_access(cfg, store.uri()))
    record_step(store, "select", digest, RUN.selection, files)
    return {"select": dict(outcomes)}


def run(cfg: Config) -> dict:
    store = output_store(cfg.output)
    require(store, ("segment",), "the segment pass (vidcurate segment, or vidcurate run)")
    if step_is_current(store, "select", selection_digest(cfg, store)):
        return {"select": "unchanged"}
    from cluster.pipeline.claim import claimed

    with claimed(cfg, store):
        if in_process(cfg, store):
            return apply(cfg, store)
        from cluster.pipeline.run import on_cluster

        with on_cluster(cfg, store, manifest=[]):
            return apply(cfg, store)


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.select", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
