"""Pass 1, segment & score: manifest → probe → split → keyframes → CLIP scores →
`candidates/` (one row per segment, every score kept whatever the thresholds)."""

from __future__ import annotations

import logging
from pathlib import Path

import open_clip
import ray
from ray.data import ActorPoolStrategy

from cluster.models import aesthetic, clip, presets
from cluster.sink import ShardWriter
from cluster.stages.keyframe_stage import DecodeKeyframes
from cluster.stages.score_stage import ScoreSegments, ScoreSettings
from cluster.stages.segment_stage import SegmentVideo, SplitSettings
from cluster.video.cuts import CutParams
from schemas.tables import CANDIDATES

log = logging.getLogger(__name__)

# One video per block: a slow or failing video never holds its neighbours back.
MAX_BLOCKS = 100_000


class ScoringUnavailable(ValueError):
    """The configured models cannot be used; raised before any work starts."""


def prepare_scoring(scoring) -> ScoreSettings:
    """Resolve and check the models on the driver, fetching weights once if needed."""
    spec, head = presets.resolve(scoring)
    try:
        clip.validate(spec)
        embed_dim = open_clip.get_model_config(spec.model)["embed_dim"]
        if head.dim != embed_dim:
            raise ScoringUnavailable(
                f"aesthetic head {head.name} takes {head.dim}-d embeddings but {spec.model} gives {embed_dim}-d; "
                "pick a head for that model (scoring.aesthetic_head)"
            )
        if not spec.random_init:
            aesthetic.head_weights(head, scoring.aesthetic_head_path)
    except (clip.ClipUnavailable, aesthetic.AestheticUnavailable) as exc:
        raise ScoringUnavailable(str(exc)) from exc
    if spec.random_init:
        log.warning("scoring preset 'random': CLIP and aesthetic weights are random; scores carry no meaning")
    return ScoreSettings(spec, head, scoring.aesthetic_head_path, scoring.aesthetic_aggregate, not spec.random_init)


def run_segment_pass(cfg, manifest: list[dict], out_root: Path, scoring: ScoreSettings) -> int:
    writer = ShardWriter(out_root / "candidates", CANDIDATES, cfg.output.rows_per_shard)
    if manifest:
        ds = ray.data.from_items(manifest, override_num_blocks=min(len(manifest), MAX_BLOCKS))
        ds = ds.flat_map(_conformed(SegmentVideo(_split_settings(cfg.split))), num_cpus=1)
        short_side = open_clip.get_model_config(scoring.clip.model)["vision_cfg"]["image_size"]
        ds = ds.map(DecodeKeyframes(cfg.scoring.keyframes, short_side), num_cpus=1)
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        actor_cpus = actor_cpu_share(cfg.scoring.cpus_per_actor, ray.cluster_resources().get("CPU", 0))
        log.info("scoring actors: %s, %s CPU each", "1 GPU each" if gpus else "CPU only (the cluster has no GPU)", actor_cpus)
        ds = ds.map_batches(
            ScoreSegments,
            fn_constructor_args=(scoring,),
            batch_size=cfg.scoring.batch_size,
            batch_format="pyarrow",
            compute=ActorPoolStrategy(min_size=1, max_size=cfg.scoring.actors),
            num_cpus=actor_cpus,
            num_gpus=gpus,
        )
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            for row in batch.to_pylist():
                writer.add(row)
    rows = writer.close()
    log.info("segment pass: %d inputs -> %d candidate rows", len(manifest), rows)
    return rows


def actor_cpu_share(wanted: float, total: float) -> float:
    """A scoring actor holds its CPUs for the whole pass; on a small cluster it must leave
    at least one CPU to the decode tasks that feed it, or both wait forever."""
    if total - wanted >= 1:
        return wanted
    fitted = max(0.0, total - 1)
    log.warning("scoring.cpus_per_actor=%s leaves no CPU for decoding on a %s-CPU cluster; using %s", wanted, total, fitted)
    return fitted


def _split_settings(s) -> SplitSettings:
    return SplitSettings(
        mode=s.mode,
        min_seconds=s.min_seconds,
        max_seconds=s.max_seconds,
        cut_params=CutParams(min_score=s.cut_min_score, ratio=s.cut_ratio, min_scene_frames=s.min_scene_frames),
    )


def _conformed(stage):
    """Every output row carries every column, so all blocks share one schema."""

    def run(row: dict) -> list[dict]:
        return [{name: out.get(name) for name in CANDIDATES.names} for out in stage(row)]

    return run
