"""Pass 1 alone: `python -m jobs.segment --config CONFIG [--set key=value ...]`.

Probes, splits and scores every input into `candidates/` under output.root. Chunks an
earlier run committed are skipped."""

from __future__ import annotations

import sys

from cluster.pipeline.claim import claimed
from cluster.pipeline.run import on_cluster, read_inputs
from cluster.pipeline.segment_pass import prepare_scoring, run_segment_pass
from cluster.store import output_store
from jobs.config import Config
from jobs.entry import config_job


def run(cfg: Config) -> dict:
    store = output_store(cfg.output)
    manifest = read_inputs(cfg, store)
    scoring = prepare_scoring(cfg.scoring)
    with claimed(cfg, store), on_cluster(cfg, store, manifest):
        return {"segment": run_segment_pass(cfg, manifest, store, scoring)}


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.segment", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
