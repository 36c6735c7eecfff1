"""Pass 3 alone: `python -m jobs.materialize --config CONFIG [--set key=value ...]`.

Writes media, captions and trainer-ready samples for the segments `selection/` keeps, then
summary.json (every input accounted for) and the report. Chunks an earlier run committed
are skipped."""

from __future__ import annotations

import logging
import sys

from cluster.pipeline.run import PassRecord, Prepared, finish, prepared
from cluster.report.dataset_report import write_report
from cluster.store import output_store
from jobs.config import Config
from jobs.entry import config_job, require

log = logging.getLogger("vidcurate")


def finish_and_report(cfg: Config, ready: Prepared, record: PassRecord) -> dict:
    """Pass 3, summary.json, then the report; returns summary.json's content."""
    summary = finish(cfg, ready, record)
    log.info("report written to %s", write_report(ready.store))
    return summary.to_json()


def run(cfg: Config) -> dict:
    require(output_store(cfg.output), ("segment", "select"), "the segment and select passes (vidcurate run)")
    with prepared(cfg) as ready:
        return finish_and_report(cfg, ready, PassRecord())


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.materialize", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
