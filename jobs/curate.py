"""Run the whole pipeline: `python -m jobs.curate --config CONFIG [--set key=value ...]`.

Segment, select and materialize in one job (each also runs alone: jobs.segment,
jobs.select, jobs.materialize), then summary.json and report/index.html."""

from __future__ import annotations

import logging
import sys

from cluster.pipeline.materialize_pass import prepare_captioning
from cluster.pipeline.segment_pass import prepare_scoring, run_segment_pass
from cluster.tokens.text import check_tokenizer
from jobs import materialize, select
from jobs.config import Config
from jobs.entry import config_job, output_root
from jobs.manifest import read_manifest
from jobs.ray_session import connect

log = logging.getLogger("vidcurate")


def run(cfg: Config) -> dict:
    """All three passes; returns summary.json's content. Everything a pass needs (manifest,
    models, a GPU for captioning) is checked before the first one starts."""
    manifest = read_manifest(cfg.input.manifest)
    scoring = prepare_scoring(cfg.scoring)
    check_tokenizer(cfg.tokens.tokenizer)
    out_root = output_root(cfg)
    connect(cfg.ray.address, cfg.ray.num_cpus)
    captioning = prepare_captioning(cfg, scoring.clip)
    log.info("%d inputs from %s", len(manifest), cfg.input.manifest)
    record = materialize.PassRecord()
    with record.timed("segment"):
        record.chunks["segment"] = run_segment_pass(cfg, manifest, out_root, scoring)
    with record.timed("select"):
        select.apply(cfg, out_root)
    return materialize.finish(cfg, manifest, out_root, captioning, record)


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.curate", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
