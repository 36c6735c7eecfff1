"""Pass 3, materialize: kept segments → `media/` + samples → `dataset/`, `errors/`,
`dataset_info.json`, `trainer_args.json`; returns the accounting for summary.json.

Media paths in samples are relative to the output root, which is also LLaMA-Factory's
dataset_dir and media_dir; `dataset/` holds nothing but Parquet shards."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow.dataset as pads
import ray

from cluster.accounting import summarize
from cluster.sink import ShardWriter
from cluster.stages.materialize_stage import MaterializeSegment, SampleSettings
from schemas.tables import CANDIDATES, DATASET, ERRORS, SELECTION
from schemas.trainer import dataset_info, trainer_args

log = logging.getLogger(__name__)

ROWS_PER_BLOCK = 4


def run_materialize_pass(cfg, manifest: list[dict], out_root: Path) -> dict:
    candidates = pads.dataset(out_root / "candidates", schema=CANDIDATES, format="parquet").to_table().to_pylist()
    decisions = pads.dataset(out_root / "selection", schema=SELECTION, format="parquet").to_table().to_pylist()
    selection = {d["segment_id"]: d["drop_reason"] for d in decisions if d["segment_id"]}
    kept = [c for c in candidates if c["segment_id"] and selection.get(c["segment_id"], "missing") is None]

    samples = ShardWriter(out_root / "dataset", DATASET, cfg.output.rows_per_shard)
    errors = ShardWriter(out_root / "errors", ERRORS, cfg.output.rows_per_shard)
    for row in candidates:
        if row["status"] == "error":
            errors.add({"input": row["uri"], **row})

    written: set[str] = set()
    failed: dict[str, str] = {}
    max_tokens = 0
    if kept:
        ds = ray.data.from_items(kept, override_num_blocks=max(1, len(kept) // ROWS_PER_BLOCK))
        ds = ds.map(MaterializeSegment(_settings(cfg, out_root)), num_cpus=1)
        for row in ds.iter_rows():
            if row["status"] == "ok":
                samples.add(row)
                written.add(row["segment_id"])
                max_tokens = max(max_tokens, row["total_tokens"])
            elif row["status"] == "filtered":
                selection[row["segment_id"]] = row["reason"]
            else:
                errors.add(row)
                failed[row["segment_id"]] = f"{row['stage']}:{row['error_type']}"
    samples.close()
    errors.close()

    summary = summarize(manifest, candidates, selection, written, failed)
    profile = cfg.tokens.profile()
    write_json(out_root / "dataset_info.json", dataset_info(cfg.sample.include_image))
    write_json(out_root / "trainer_args.json", trainer_args(profile, str(out_root.resolve()), max_tokens))
    log.info("materialize pass: %d samples, %d segment errors", len(written), len(failed))
    return summary


def _settings(cfg, out_root: Path) -> SampleSettings:
    return SampleSettings(
        dataset_root=str(out_root.resolve()),
        profile=cfg.tokens.profile(),
        max_total_tokens=cfg.tokens.max_total_tokens,
        media=cfg.output.media,
        jpeg_quality=cfg.output.jpeg_quality,
        prompt=cfg.sample.prompt,
        system=cfg.sample.system,
        include_image=cfg.sample.include_image,
        config_hash=cfg.digest(),
    )


def write_json(path: Path, payload: dict) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(path)
