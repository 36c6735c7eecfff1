"""Pass 1 alone: `python -m jobs.segment --config CONFIG [--set key=value ...]`.

Probes, splits and scores every input into `candidates/` under output.root. Chunks an
earlier run committed are skipped."""

from __future__ import annotations

import sys

from cluster.manifest import read_manifest
from cluster.pipeline.run import join_cluster, output_root
from cluster.pipeline.segment_pass import prepare_scoring, run_segment_pass
from jobs.config import Config
from jobs.entry import config_job


def run(cfg: Config) -> dict:
    manifest = read_manifest(cfg.input.manifest)
    scoring = prepare_scoring(cfg.scoring)
    store = output_root(cfg)
    join_cluster(cfg, store)
    return {"segment": run_segment_pass(cfg, manifest, store, scoring)}


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.segment", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
