"""Pass 3 alone: `python -m jobs.materialize --config CONFIG [--set key=value ...]`.

Writes media, captions and trainer-ready samples for the segments `selection/` keeps, then
summary.json (every input accounted for) and the report. Chunks an earlier run committed
are skipped."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cluster.accounting import check
from cluster.pipeline.materialize_pass import CaptionPlan, prepare_captioning, run_materialize_pass
from cluster.pipeline.segment_pass import prepare_scoring
from cluster.report.dataset_report import write_report
from cluster.stages.score_stage import ScoreSettings
from cluster.store import Store
from cluster.tokens.text import check_tokenizer
from jobs.config import Config
from jobs.entry import config_job, join_cluster, open_store, output_root, require
from jobs.manifest import read_manifest
from schemas.layout import RUN

log = logging.getLogger("vidcurate")


@dataclass
class PassRecord:
    """Chunks and wall time of each pass one command ran, for summary.json."""

    chunks: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)

    def as_summary(self) -> dict:
        return {"chunks": self.chunks, "timings_s": self.seconds}


def finish(
    cfg: Config, manifest: list[dict], store: Store, captioning: CaptionPlan | None, earlier: PassRecord | None = None
) -> dict:
    """Pass 3, then summary.json (with the chunks and timings of this and `earlier` passes)
    and the report. Raises AccountingError when some input is not accounted for, after
    writing summary.json, so the user can see which."""
    record = earlier or PassRecord()
    with record.timed("materialize"):
        summary = run_materialize_pass(cfg, manifest, store, captioning)
    record.chunks["materialize"] = summary.pop("chunks")
    summary.update(record.as_summary())
    store.write_json(RUN.summary, summary)
    check(summary)
    log.info("report written to %s", write_report(store))
    return summary


@dataclass(frozen=True)
class Prepared:
    """What the passes need, checked on the driver before any work starts."""

    manifest: list[dict]
    scoring: ScoreSettings
    store: Store
    captioning: CaptionPlan | None


def prepare(cfg: Config) -> Prepared:
    """Read the manifest, check the models, tokenizer and captioner, write the config beside
    the output and join Ray; a problem with any of them stops the run here."""
    manifest = read_manifest(cfg.input.manifest)
    scoring = prepare_scoring(cfg.scoring)
    check_tokenizer(cfg.tokens.tokenizer)
    store = output_root(cfg)
    join_cluster(cfg, store)
    return Prepared(manifest, scoring, store, prepare_captioning(cfg, scoring.clip))


def run(cfg: Config) -> dict:
    require(open_store(cfg), ("segment", "select"), "the segment and select passes (vidcurate run)")
    ready = prepare(cfg)
    return finish(cfg, ready.manifest, ready.store, ready.captioning)


def main(argv: list[str] | None = None) -> int:
    return config_job("python -m jobs.materialize", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
