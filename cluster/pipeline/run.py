"""One run of the pipeline, whichever command starts it: the driver-side checks before any
work (`prepared`, which claims the output root: cluster/pipeline/claim.py), and pass 3
followed by summary.json (`finish`), built once as a `RunSummary` from what the passes
report."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from cluster.accounting import Accounting, check
from cluster.manifest import read_manifest
from cluster.pipeline.claim import claimed
from cluster.pipeline.materialize_pass import CaptionPlan, prepare_captioning, run_materialize_pass
from cluster.pipeline.segment_pass import prepare_scoring
from cluster.ray_session import connect
from cluster.stages.inputs import sweep_caches
from cluster.stages.score_stage import ScoreSettings
from cluster.storage import is_remote
from cluster.store import Store, StoreError, output_store
from cluster.tokens.text import check_tokenizer
from schemas.layout import RUN

log = logging.getLogger("vidcurate")


def read_inputs(cfg, store: Store) -> list[dict]:
    """The manifest's entries; a folder or glob leaves out the output root's own files."""
    return read_manifest(cfg.input.manifest, store.uri(), cfg.input.max_text_chars)


@contextmanager
def on_cluster(cfg, store: Store, manifest: list[dict]) -> Iterator[None]:
    """Ray for the block (joined or started). On leaving, what the run's workers fetched of
    remote inputs is removed, on every node when the manifest names any."""
    join_cluster(cfg, store)
    try:
        yield
    finally:
        clear_input_caches(any(is_remote(row["uri"]) for row in manifest))


def clear_input_caches(every_node: bool) -> None:
    """Remove this job's caches of remote inputs (and those of ended processes): on this
    node, or on every node of the cluster."""
    job = ray.get_runtime_context().get_job_id()
    if not every_node:
        sweep_caches(job)
        return
    sweep = ray.remote(num_cpus=0)(sweep_caches)
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    pinned = [sweep.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)) for n in nodes]
    try:
        removed = sum(ray.get([task.remote(job) for task in pinned], timeout=120))
    except (ray.exceptions.RayError, TimeoutError) as exc:
        log.warning("could not clear the workers' caches of remote inputs (%s); they go when their processes end", exc)
        return
    log.info("removed %d caches of remote inputs from %d nodes", removed, len(nodes))


def join_cluster(cfg, store: Store) -> None:
    """Join (or start) Ray. On a cluster of several nodes a local root would scatter the
    output over the nodes' own disks, so only a remote root or a declared shared mount runs."""
    connect(cfg.ray.address, cfg.ray.num_cpus)
    nodes = sum(1 for node in ray.nodes() if node["Alive"])
    if nodes > 1 and not store.remote and not cfg.output.shared_mount:
        raise StoreError(
            f"output.root {store.root} is a local path, but the Ray cluster has {nodes} nodes: each would write to its "
            "own disk. Use an object-store root (output.root: s3://bucket/prefix) or a mount every node shares, and "
            "then declare it with output.shared_mount: true"
        )


@dataclass(frozen=True)
class Prepared:
    """What the passes need, checked on the driver before any work starts."""

    manifest: list[dict]
    scoring: ScoreSettings
    store: Store
    captioning: CaptionPlan | None


@contextmanager
def prepared(cfg) -> Iterator[Prepared]:
    """Read the manifest, check the models, tokenizer and captioner, claim the output root
    and join Ray; a problem with any of them stops the run here."""
    store = output_store(cfg.output)
    manifest = read_inputs(cfg, store)
    scoring = prepare_scoring(cfg.scoring)
    check_tokenizer(cfg.tokens.tokenizer, cfg.tokens.family)
    cfg.tokens.effective()  # reads tokens.model: a wrong model stops the run here
    with claimed(cfg, store), on_cluster(cfg, store, manifest):
        yield Prepared(manifest, scoring, store, prepare_captioning(cfg, scoring.clip))


@dataclass
class PassRecord:
    """Chunks and wall time of each pass one command ran, for summary.json."""

    chunks: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)


@dataclass(frozen=True)
class RunSummary:
    """summary.json: where every input ended, the samples written, and the chunks and wall
    time of the passes this command ran."""

    accounting: Accounting
    samples: int
    chunks: dict[str, dict[str, int]]
    timings_s: dict[str, float]

    def to_json(self) -> dict:
        a = self.accounting
        return {
            "inputs": a.inputs,
            "videos": asdict(a.videos),
            "segments": asdict(a.segments),
            "samples": self.samples,
            "balanced": a.balanced,
            "missing_inputs": a.missing_inputs,
            "chunks": self.chunks,
            "timings_s": self.timings_s,
        }


def finish(cfg, ready: Prepared, record: PassRecord) -> RunSummary:
    """Pass 3, then summary.json with the chunks and timings of every pass in `record`.
    Raises AccountingError when some input is not accounted for, after writing summary.json,
    so the user can see which."""
    with record.timed("materialize"):
        outcome = run_materialize_pass(cfg, ready.manifest, ready.store, ready.captioning)
    record.chunks["materialize"] = outcome.chunks
    summary = RunSummary(outcome.accounting, outcome.samples, record.chunks, record.seconds)
    ready.store.write_json(RUN.summary, summary.to_json())
    check(summary.accounting)
    return summary
