"""Run the whole pipeline: `python -m jobs.curate --config CONFIG [--set key=value ...]`.

Segment, select and materialize in one job (each also runs alone: jobs.segment,
jobs.select, jobs.materialize), then summary.json and report/index.html."""

from __future__ import annotations

import logging
import sys

from cluster.pipeline.run import PassRecord, prepared
from cluster.pipeline.segment_pass import run_segment_pass
from jobs import materialize, select
from jobs.config import Config
from jobs.entry import config_job

log = logging.getLogger("vidcurate")


def run(cfg: Config) -> dict:
    """All three passes; returns summary.json's content. Everything a pass needs (manifest,
    models, a GPU for captioning) is checked before the first one starts."""
    with prepared(cfg) as ready:
        log.info("%d inputs from %s", len(ready.manifest), cfg.input.manifest)
        record = PassRecord()
        with record.timed("segment"):
            record.chunks["segment"] = run_segment_pass(cfg, ready.manifest, ready.store, ready.scoring)
        with record.timed("select"):
            select.apply(cfg, ready.store)
        return materialize.finish_and_report(cfg, ready, record)


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.curate", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
