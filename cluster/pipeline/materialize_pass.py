"""Pass 3, materialize: kept segments → `media/` + samples → `dataset/`, `errors/`,
`dataset_info.json`, `trainer_args.json`; returns the accounting for summary.json.

Media paths in samples are relative to the output root, which is also LLaMA-Factory's
dataset_dir and media_dir; `dataset/` holds nothing but Parquet shards."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from typing import cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import ray
from ray.data import ActorPoolStrategy

from cluster import metrics
from cluster.accounting import Accounting, summarize
from cluster.caption.backends import check_captioner
from cluster.caption.placement import Placement, place_captioner
from cluster.models.clip import ClipSpec
from cluster.pipeline.segment_pass import actor_cpu_share, threads_per_actor
from cluster.progress import BugBudget, ChunkCollector, ChunkLedger, committed_files, record_pass, step_files
from cluster.stages.caption_score_stage import ScoreCaptions
from cluster.stages.caption_stage import CaptionSegments
from cluster.stages.chained import Chained, Stage
from cluster.stages.chunk_rows import chunk_rows, in_chunk
from cluster.stages.compose_stage import ComposeSamples, ComposeSettings
from cluster.stages.idle_cores_stage import BorrowIdleCores
from cluster.stages.inputs import input_access
from cluster.stages.materialize_stage import MaterializeSegment, SampleSettings
from cluster.store import Store
from cluster.tokens.profiles import TokenProfile
from schemas.layout import RUN
from schemas.tables import CANDIDATES, DATASET, ERRORS, INPUTS, PIPELINE_VERSION, SELECTION, table_from_rows
from schemas.trainer import dataset_info, trainer_args

log = logging.getLogger(__name__)

ROWS_PER_BLOCK = 4
ACCOUNTING_COLUMNS = ["input_index", "uri", "segment_id", "status", "reason", "stage", "error_type"]
ERROR_COLUMNS = ["uri", *(name for name in ERRORS.names if name != "input")]
MATERIALIZE_MEMORY = 512 * 1024**2
# a media task decodes on one thread; half a CPU each lets two of them use the cores that a
# waiting captioner leaves idle (when all are busy, the OS shares the cores between them)
MATERIALIZE_CPUS = 0.5


@dataclass(frozen=True)
class CaptionPlan:
    """Decided on the driver before pass 1: where the captioner runs, and the CLIP model
    that scores its captions."""

    placement: Placement
    clip: ClipSpec


def prepare_captioning(cfg, clip_spec: ClipSpec) -> CaptionPlan | None:
    """Check the captioner and decide where it runs, on the driver, before any work."""
    if not cfg.caption.enabled:
        return None
    check_captioner(cfg.caption)
    return CaptionPlan(place_captioner(cfg.caption, ray.cluster_resources().get("GPU", 0)), clip_spec)


@dataclass(frozen=True)
class MaterializeOutcome:
    accounting: Accounting
    samples: int
    chunks: dict[str, int]


def run_materialize_pass(cfg, manifest: list[dict], store: Store, captioning: CaptionPlan | None) -> MaterializeOutcome:
    """Write samples for the kept segments of every chunk not committed by an earlier run,
    then account for every input from all chunks' outcomes.

    The driver reads only the accounting columns of candidates/ and selection/; a chunk's
    full rows (embeddings and all) are read on a worker when the pipeline reaches it, so the
    driver's memory stays small at millions of segments."""
    candidate_files = committed_files(store, "segment", RUN.candidates)
    candidates = store.dataset(candidate_files, CANDIDATES)
    accounting = candidates.to_table(columns=ACCOUNTING_COLUMNS).to_pylist()
    decisions = (
        store.dataset(step_files(store, "select"), SELECTION)
        .to_table(
            columns=["segment_id", "drop_reason", "cluster_id", "duplicate_group"],
            filter=pc.is_valid(pc.field("segment_id")),
        )
        .to_pylist()
    )
    selection = {d["segment_id"]: d["drop_reason"] for d in decisions}
    clustering = {
        d["segment_id"]: [d["cluster_id"], d["duplicate_group"]] for d in decisions if d["drop_reason"] is None
    }
    del decisions

    size = cfg.input.chunk_size
    chunks = -(-len(manifest) // size)
    kept: dict[int, list[str]] = {c: [] for c in range(chunks)}
    for row in accounting:
        if row["status"] != "error" and row["segment_id"] in clustering:
            kept[row["input_index"] // size].append(row["segment_id"])

    # samples of another pipeline version are counted by other rules (and have another schema)
    settings = {**cfg.shaping(), "pipeline_version": PIPELINE_VERSION}
    profile, sources = cfg.tokens.effective()
    if cfg.tokens.model:  # the model folder's processor configs shape the counts too
        settings["tokens_from_model"] = profile.resolved()
    ledger = ChunkLedger(store, "materialize", settings, (RUN.dataset, RUN.errors), cfg.output.replace)
    done = ledger.committed({c: sorted(ids) for c, ids in kept.items()})
    todo = {c: sorted(ids) for c, ids in kept.items() if c not in done}
    log.info("materialize pass: %d chunks; %d committed by an earlier run", chunks, len(done))
    budget = BugBudget(cfg.errors.max_fraction, sum(len(ids) for ids in todo.values()))
    assembler = SampleAssembler(todo, EarlierErrors(candidates, size), ledger, cfg.output.rows_per_shard, budget)
    work = [
        {"chunk": c, "segments": json.dumps({sid: clustering[sid] for sid in ids})} for c, ids in todo.items() if ids
    ]
    if work:
        built = samples_dataset(cfg, profile, work, store, candidate_files, captioning)
        for batch in built.iter_batches(batch_format="pyarrow", batch_size=None):
            assembler.add(cast(pa.Table, batch).to_pylist())
    assembler.finish()
    _remove_unreferenced_media(store)

    outcomes = {**done, **assembler.outcomes}
    written = {sid for o in outcomes.values() for sid, (kind, _) in o["segments"].items() if kind == "sample"}
    failed = {sid: why for o in outcomes.values() for sid, (kind, why) in o["segments"].items() if kind == "error"}
    selection.update(
        {sid: why for o in outcomes.values() for sid, (kind, why) in o["segments"].items() if kind == "filtered"}
    )
    counts, per_input = summarize(manifest, accounting, selection, written, failed)
    with store.open_write(RUN.inputs) as f:
        pq.write_table(table_from_rows(per_input, INPUTS), f)
    samples = sum(o["rows"] for o in outcomes.values())
    pass_chunks = {"chunks": chunks, "committed_before": len(done), "run": len(todo)}
    record_pass(store, "materialize", pass_chunks, samples)
    max_tokens = max((o["max_tokens"] for o in outcomes.values()), default=0)
    store.write_json(RUN.dataset_info, dataset_info(cfg.sample.include_image or cfg.sample.image_samples))
    args = trainer_args(profile, store.uri(), max_tokens, text_counted=cfg.tokens.tokenizer is not None)
    args["parameter_sources"] = sources
    store.write_json(RUN.trainer_args, args)
    log.info("materialize pass: %d samples from %d segments, %d segment errors", samples, len(written), len(failed))
    return MaterializeOutcome(counts, samples, pass_chunks)


def _remove_unreferenced_media(store: Store) -> None:
    """Delete media no sample refers to: those of an earlier run under another token profile
    or config (other sample ids), of segments the caption gates dropped, and of attempts
    that were killed. Media are `media/<xx>/<sample id>/...` frames and
    `media/<xx>/<sample id>.mp4` clips, named by ids only."""
    referenced: set[str] = set()
    dataset = store.dataset(committed_files(store, "materialize", RUN.dataset), DATASET)
    for batch in dataset.to_batches(columns=["videos", "video_clips", "images"]):
        for row in batch.to_pylist():
            paths = [frames[0] for frames in row["videos"] if frames] + row["video_clips"] + row["images"]
            referenced.update(_media_entry(path) for path in paths)
    unreferenced = [f for f in store.files(RUN.media) if _media_entry(f) not in referenced]
    store.delete(unreferenced)
    if unreferenced:
        log.info("materialize pass: removed %d media files no sample refers to", len(unreferenced))


def _media_entry(path: str) -> str:
    """`media/ab/<id>/frame_00000.jpg` and `media/ab/<id>.mp4` → `ab/<id>`."""
    _, shard, name = path.split("/")[:3]
    return f"{shard}/{name.removesuffix('.mp4')}"


class SampleAssembler:
    """Collects pass-3 rows as they stream in and commits a chunk (its samples, its errors
    from every pass, and each kept segment's outcome) once all its segments are done."""

    def __init__(
        self,
        todo: dict[int, list[str]],
        failed_before: EarlierErrors,
        ledger: ChunkLedger,
        rows_per_shard: int,
        budget: BugBudget,
    ):
        self.ledger, self.rows_per_shard, self.failed_before = ledger, rows_per_shard, failed_before
        self.outcomes: dict[int, dict] = {}
        self.collector = ChunkCollector(todo, lambda row: row["segment_id"], _complete, self._commit, budget)
        self.collector.commit_complete()

    def add(self, rows: list[dict]) -> None:
        self.collector.add(rows)

    def finish(self) -> None:
        if self.collector.pending():
            missing = self.collector.incomplete()
            raise RuntimeError(
                f"materialize pass ended with {len(missing)} segments unreported, e.g. {missing[:5]}; rerun to resume"
            )

    def _commit(self, chunk: int, segments: dict[str, list[dict]]) -> None:
        samples = self.ledger.writer(chunk, RUN.dataset, DATASET, self.rows_per_shard)
        errors = self.ledger.writer(chunk, RUN.errors, ERRORS, self.rows_per_shard)
        for row in self.failed_before(chunk):
            errors.add(row)
        outcome: dict[str, list] = {}
        max_tokens = 0
        for sid in sorted(segments):
            for row in sorted(segments[sid], key=lambda r: r["id"] or ""):
                if row["status"] == "ok":
                    samples.add(row)
                    outcome[sid] = ["sample", None]
                    max_tokens = max(max_tokens, row["total_tokens"])
                elif row["status"] == "filtered":
                    outcome[sid] = ["filtered", row["reason"]]
                else:
                    errors.add(row)
                    outcome[sid] = ["error", f"{row['stage']}:{row['error_type']}"]
        self.outcomes[chunk] = {"segments": outcome, "rows": samples.close(), "max_tokens": max_tokens}
        for kind, why in outcome.values():
            if kind == "sample":
                metrics.count("vidcurate_segments_kept")
            elif kind == "filtered":
                metrics.count("vidcurate_segments_filtered", reason=why)
        errors.close()
        self.ledger.commit(chunk, sorted(segments), self.outcomes[chunk])


class EarlierErrors:
    """A chunk's error rows from the earlier passes, read when the chunk is committed."""

    def __init__(self, candidates: pads.Dataset, chunk_size: int):
        self.candidates, self.chunk_size = candidates, chunk_size

    def __call__(self, chunk: int) -> list[dict]:
        failed = in_chunk(chunk, self.chunk_size) & (pc.field("status") == "error")
        rows = self.candidates.to_table(columns=ERROR_COLUMNS, filter=failed).to_pylist()
        return [{"input": r.pop("uri"), **r} for r in rows]


def _complete(rows: list[dict]) -> bool:
    return bool(rows) and len(rows) == rows[0]["segment_rows"]


def samples_dataset(
    cfg,
    profile: TokenProfile,
    work: list[dict],
    store: Store,
    candidate_files: list[str],
    captioning: CaptionPlan | None,
) -> ray.data.Dataset:
    """Pass 3's pipeline over `work` (one item per chunk: its kept segments' cluster fields):
    the chunk's rows (a task, fused with the split into small blocks, so a chunk's segments
    are materialized by many tasks at once) → materialize (CPU tasks) → one captioner actor:
    caption, caption CLIP score, compose (compose tasks when nothing is captioned)."""
    rows = partial(chunk_rows, store=store, candidate_files=candidate_files, chunk_size=cfg.input.chunk_size)
    # no resources of its own: a request unlike the repartition's would keep the two apart
    ds = ray.data.from_items(work).map_batches(rows, batch_size=1, batch_format="pyarrow")
    ds = ds.repartition(target_num_rows_per_block=ROWS_PER_BLOCK)
    # The memory reservation (one segment's decoded frames) also keeps Ray Data from fusing
    # these decode tasks into the captioner's actor, whose process must not decode.
    ds = ds.map_batches(
        MaterializeSegment(
            _settings(cfg, profile, store, carry_media=captioning is not None), cfg.errors.max_fraction > 0
        ),
        batch_size=1,
        batch_format="pyarrow",
        num_cpus=MATERIALIZE_CPUS,
        memory=MATERIALIZE_MEMORY,
    )
    compose = _compose_settings(cfg, profile)
    if not captioning:
        return ds.map_batches(ComposeSamples(compose), batch_size=ROWS_PER_BLOCK, batch_format="pyarrow", num_cpus=0.25)
    c, placement = cfg.caption, captioning.placement
    # One process for the three stages: a second actor for CLIP's text tower would import
    # torch again and hold a core's worth of work apart from the captioner it waits on.
    stages: list[Stage] = [
        (CaptionSegments, (c, placement.device)),
        (ScoreCaptions, (captioning.clip, cfg.sample.answer)),
        (ComposeSamples, (compose,)),
    ]
    if placement.device == "cpu":
        stages.insert(0, (BorrowIdleCores, (threads_per_actor(c.replicas),)))
    return ds.map_batches(
        Chained,
        fn_constructor_args=tuple(stages),
        batch_size=c.batch_size,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(min_size=1, max_size=c.replicas),
        num_cpus=actor_cpu_share(placement.num_cpus, ray.cluster_resources().get("CPU", 0)),
        num_gpus=placement.num_gpus,
    )


def _settings(cfg, profile: TokenProfile, store: Store, carry_media: bool) -> SampleSettings:
    return SampleSettings(
        store=store,
        carry_media=carry_media,
        profile=profile,
        max_total_tokens=cfg.tokens.max_total_tokens,
        media=cfg.output.media,
        jpeg_quality=cfg.output.jpeg_quality,
        write_still=cfg.sample.include_image or cfg.sample.image_samples,
        config_hash=cfg.digest(),
        access=input_access(cfg, store.uri()),
        max_corrupt=cfg.limits.max_corrupt_fraction,
    )


def _compose_settings(cfg, profile: TokenProfile) -> ComposeSettings:
    s = cfg.sample
    return ComposeSettings(
        instructions=tuple(s.instructions),
        image_instructions=tuple(s.image_instructions),
        seed=s.seed,
        system=s.system,
        answer=s.answer,
        include_qa=s.include_qa,
        include_image=s.include_image,
        image_samples=s.image_samples,
        gates=cfg.caption.gates,
        tokenizer=cfg.tokens.tokenizer,
        max_total_tokens=cfg.tokens.max_total_tokens,
        llamafactory_family=profile.family if profile.consumer == "llamafactory" else None,
    )
