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
import ray

from ray.data import ActorPoolStrategy

from cluster.accounting import summarize
from cluster.caption.backends import check_captioner
from cluster.caption.placement import Placement, place_captioner
from cluster.models.clip import ClipSpec
from cluster.pipeline.segment_pass import actor_cpu_share
from cluster.sink import ShardWriter
from cluster.stages.caption_score_stage import ScoreCaptions
from cluster.stages.caption_stage import CaptionSegments
from cluster.stages.compose_stage import ComposeSamples, ComposeSettings
from cluster.stages.materialize_stage import MaterializeSegment, SampleSettings
from schemas.tables import CANDIDATES, DATASET, ERRORS, SELECTION
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
    candidates = pads.dataset(out_root / "candidates", schema=CANDIDATES, format="parquet").to_table().to_pylist()
    decisions = pads.dataset(out_root / "selection", schema=SELECTION, format="parquet").to_table().to_pylist()
    selection = {d["segment_id"]: d["drop_reason"] for d in decisions if d["segment_id"]}
    clustering = {d["segment_id"]: {k: d[k] for k in ("cluster_id", "duplicate_group")} for d in decisions if d["segment_id"]}
    kept = [
        {**c, **clustering[c["segment_id"]]}
        for c in candidates
        if c["segment_id"] and selection.get(c["segment_id"], "missing") is None
    ]

    samples = ShardWriter(out_root / "dataset", DATASET, cfg.output.rows_per_shard)
    errors = ShardWriter(out_root / "errors", ERRORS, cfg.output.rows_per_shard)
    for row in candidates:
        if row["status"] == "error":
            errors.add({"input": row["uri"], **row})

    written: set[str] = set()
    failed: dict[str, str] = {}
    max_tokens = 0
    if kept:
        for batch in _samples(cfg, kept, out_root, captioning).iter_batches(batch_format="pyarrow", batch_size=None):
            for row in batch.to_pylist():
                if row["status"] == "ok":
                    samples.add(row)
                    written.add(row["segment_id"])
                    max_tokens = max(max_tokens, row["total_tokens"])
                elif row["status"] == "filtered":
                    selection[row["segment_id"]] = row["reason"]
                else:
                    errors.add(row)
                    failed[row["segment_id"]] = f"{row['stage']}:{row['error_type']}"
    rows = samples.close()
    errors.close()

    summary = summarize(manifest, candidates, selection, written, failed)
    summary["samples"] = rows
    profile = cfg.tokens.profile()
    write_json(out_root / "dataset_info.json", dataset_info(cfg.sample.include_image or cfg.sample.image_samples))
    write_json(out_root / "trainer_args.json", trainer_args(profile, str(out_root.resolve()), max_tokens))
    log.info("materialize pass: %d samples from %d segments, %d segment errors", rows, len(written), len(failed))
    return summary


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
