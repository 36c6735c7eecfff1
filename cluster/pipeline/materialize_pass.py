"""Pass 3, materialize: kept segments → `media/` + samples → `dataset/`, `errors/`,
`dataset_info.json`, `trainer_args.json`; returns the accounting for summary.json.

Media paths in samples are relative to the output root, which is also LLaMA-Factory's
dataset_dir and media_dir; `dataset/` holds nothing but Parquet shards."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import ray

from ray.data import ActorPoolStrategy

from cluster import metrics
from cluster.accounting import summarize
from cluster.caption.backends import check_captioner
from cluster.caption.placement import Placement, place_captioner
from cluster.models.clip import ClipSpec
from cluster.pipeline.segment_pass import actor_cpu_share
from cluster.progress import ChunkLedger
from cluster.stages.caption_score_stage import ScoreCaptions
from cluster.stages.caption_stage import CaptionSegments
from cluster.stages.compose_stage import ComposeSamples, ComposeSettings
from cluster.stages.materialize_stage import MaterializeSegment, SampleSettings
from schemas.tables import CANDIDATES, DATASET, ERRORS, INPUTS, SELECTION, table_from_rows
from schemas.trainer import dataset_info, trainer_args

log = logging.getLogger(__name__)

ROWS_PER_BLOCK = 4
MATERIALIZE_MEMORY = 512 * 1024**2


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


def run_materialize_pass(cfg, manifest: list[dict], out_root: Path, captioning: CaptionPlan | None) -> dict:
    """Write samples for the kept segments of every chunk not committed by an earlier run,
    then account for every input from all chunks' outcomes."""
    candidates = pads.dataset(out_root / "candidates", schema=CANDIDATES, format="parquet").to_table().to_pylist()
    decisions = pads.dataset(out_root / "selection", schema=SELECTION, format="parquet").to_table().to_pylist()
    selection = {d["segment_id"]: d["drop_reason"] for d in decisions if d["segment_id"]}
    clustering = {d["segment_id"]: {k: d[k] for k in ("cluster_id", "duplicate_group")} for d in decisions if d["segment_id"]}

    size = cfg.input.chunk_size
    chunks = -(-len(manifest) // size)
    kept: dict[int, list[dict]] = {c: [] for c in range(chunks)}
    failed_before: dict[int, list[dict]] = {c: [] for c in range(chunks)}
    for row in candidates:
        chunk = row["input_index"] // size
        if row["status"] == "error":
            failed_before[chunk].append({"input": row["uri"], **row})
        elif row["segment_id"] and selection.get(row["segment_id"], "missing") is None:
            kept[chunk].append({**row, **clustering[row["segment_id"]]})

    ledger = ChunkLedger(out_root, "materialize", cfg.digest(), ("dataset", "errors"))
    done = ledger.committed({c: sorted(r["segment_id"] for r in kept[c]) for c in kept})
    todo = {c: rows for c, rows in kept.items() if c not in done}
    log.info("materialize pass: %d chunks; %d committed by an earlier run", chunks, len(done))
    assembler = SampleAssembler(todo, failed_before, ledger, cfg.output.rows_per_shard)
    segments = [row for rows in todo.values() for row in rows]
    if segments:
        for batch in _samples(cfg, segments, out_root, captioning).iter_batches(batch_format="pyarrow", batch_size=None):
            assembler.add(batch.to_pylist())
    assembler.finish()

    outcomes = {**done, **assembler.outcomes}
    written = {sid for o in outcomes.values() for sid, (kind, _) in o["segments"].items() if kind == "sample"}
    failed = {sid: why for o in outcomes.values() for sid, (kind, why) in o["segments"].items() if kind == "error"}
    selection.update({sid: why for o in outcomes.values() for sid, (kind, why) in o["segments"].items() if kind == "filtered"})
    summary, per_input = summarize(manifest, candidates, selection, written, failed)
    pq.write_table(table_from_rows(per_input, INPUTS), out_root / "inputs.parquet.tmp")
    (out_root / "inputs.parquet.tmp").replace(out_root / "inputs.parquet")
    summary["samples"] = sum(o["rows"] for o in outcomes.values())
    summary["chunks"] = {"chunks": chunks, "committed_before": len(done), "run": len(todo)}
    max_tokens = max((o["max_tokens"] for o in outcomes.values()), default=0)
    write_json(out_root / "dataset_info.json", dataset_info(cfg.sample.include_image or cfg.sample.image_samples))
    write_json(out_root / "trainer_args.json", trainer_args(cfg.tokens.profile(), str(out_root.resolve()), max_tokens))
    log.info("materialize pass: %d samples from %d segments, %d segment errors", summary["samples"], len(written), len(failed))
    return summary


class SampleAssembler:
    """Collects pass-3 rows as they stream in and commits a chunk (its samples, its errors
    from every pass, and each kept segment's outcome) once all its segments are done."""

    def __init__(self, todo: dict[int, list[dict]], failed_before: dict[int, list[dict]], ledger: ChunkLedger, rows_per_shard: int):
        self.ledger, self.rows_per_shard, self.failed_before = ledger, rows_per_shard, failed_before
        self.chunk_of = {r["segment_id"]: c for c, rows in todo.items() for r in rows}
        self.rows: dict[int, dict[str, list[dict]]] = {c: {r["segment_id"]: [] for r in rows} for c, rows in todo.items()}
        self.outcomes: dict[int, dict] = {}
        for chunk in list(self.rows):
            self._commit_if_complete(chunk)

    def add(self, rows: list[dict]) -> None:
        for row in rows:
            chunk = self.chunk_of[row["segment_id"]]
            self.rows[chunk][row["segment_id"]].append(row)
        for chunk in {self.chunk_of[row["segment_id"]] for row in rows}:
            self._commit_if_complete(chunk)

    def finish(self) -> None:
        if self.rows:
            missing = [sid for rows in self.rows.values() for sid, got in rows.items() if not _complete(got)]
            raise RuntimeError(f"materialize pass ended with {len(missing)} segments unreported, e.g. {missing[:5]}; rerun to resume")

    def _commit_if_complete(self, chunk: int) -> None:
        segments = self.rows[chunk]
        if not all(_complete(got) for got in segments.values()):
            return
        samples = self.ledger.writer(chunk, "dataset", DATASET, self.rows_per_shard)
        errors = self.ledger.writer(chunk, "errors", ERRORS, self.rows_per_shard)
        for row in self.failed_before[chunk]:
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
        del self.rows[chunk]


def _complete(rows: list[dict]) -> bool:
    return bool(rows) and len(rows) == rows[0]["segment_rows"]


def _samples(cfg, kept: list[dict], out_root: Path, captioning: CaptionPlan | None) -> ray.data.Dataset:
    """materialize (CPU tasks) → caption (actor pool) → caption CLIP score → compose."""
    ds = ray.data.from_items(kept, override_num_blocks=max(1, len(kept) // ROWS_PER_BLOCK))
    # The memory reservation (one segment's decoded frames) also keeps Ray Data from fusing
    # these decode tasks into the captioner actors, which must only caption.
    ds = ds.map_batches(
        MaterializeSegment(_settings(cfg, out_root)),
        batch_size=1,
        batch_format="pyarrow",
        num_cpus=1,
        memory=MATERIALIZE_MEMORY,
    )
    if captioning:
        c, placement = cfg.caption, captioning.placement
        ds = ds.map_batches(
            CaptionSegments,
            fn_constructor_args=(c, str(out_root.resolve()), placement.device),
            batch_size=c.batch_size,
            batch_format="pyarrow",
            compute=ActorPoolStrategy(min_size=1, max_size=c.replicas),
            num_cpus=actor_cpu_share(placement.num_cpus, ray.cluster_resources().get("CPU", 0)),
            num_gpus=placement.num_gpus,
        )
        # CLIP's text tower on a caption batch takes milliseconds: it reserves no CPU, so it
        # never starves the materialize tasks of a small cluster
        ds = ds.map_batches(
            ScoreCaptions,
            fn_constructor_args=(captioning.clip, cfg.sample.answer),
            batch_size=c.batch_size,
            batch_format="pyarrow",
            compute=ActorPoolStrategy(size=1),
            num_cpus=0,
        )
    return ds.map_batches(ComposeSamples(_compose_settings(cfg)), batch_size=ROWS_PER_BLOCK, batch_format="pyarrow", num_cpus=0.25)


def _settings(cfg, out_root: Path) -> SampleSettings:
    return SampleSettings(
        dataset_root=str(out_root.resolve()),
        profile=cfg.tokens.profile(),
        max_total_tokens=cfg.tokens.max_total_tokens,
        media=cfg.output.media,
        jpeg_quality=cfg.output.jpeg_quality,
        write_still=cfg.sample.include_image or cfg.sample.image_samples,
        config_hash=cfg.digest(),
        guard=cfg.decoder.guard(),
    )


def _compose_settings(cfg) -> ComposeSettings:
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
    )


def write_json(path: Path, payload: dict) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(path)
