"""Pass 1, segment & score: manifest → probe → split → keyframes → CLIP scores →
`candidates/` (one row per segment, every score kept whatever the thresholds)."""

from __future__ import annotations

import logging
from dataclasses import fields, replace
from typing import cast

import open_clip
import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy

from cluster.admission import Admission, admit
from cluster.models import aesthetic, clip, presets, transnet
from cluster.progress import BugBudget, ChunkCollector, ChunkLedger, record_pass
from cluster.stages.errors import error_fields
from cluster.stages.inputs import InputAccess, input_access
from cluster.stages.keyframe_stage import DecodeKeyframes
from cluster.stages.score_stage import ScoreSegments, ScoreSettings
from cluster.stages.segment_stage import SegmentVideo, input_fields
from cluster.store import Store
from cluster.usage import UsageError
from cluster.video.cuts import CutParams
from cluster.video.shots import SplitSettings, WorkLimits
from schemas.layout import RUN
from schemas.tables import CANDIDATES

log = logging.getLogger(__name__)

# One video per block: a slow or failing video never holds its neighbours back.
MAX_BLOCKS = 100_000
# what a decode task reserves: a batch of thumbnails, a segment's keyframes, its decoder child
DECODE_MEMORY = 512 * 1024**2


class ScoringUnavailable(UsageError):
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


def run_segment_pass(cfg, manifest: list[dict], store: Store, scoring: ScoreSettings) -> dict:
    """Segment and score every input not yet committed by an earlier run; returns how many
    chunks were already done and how many ran."""
    split = split_settings(cfg.split, cfg.limits, ray.cluster_resources().get("GPU", 0))
    entries = [{**row, "input_index": i} for i, row in enumerate(manifest)]
    size = cfg.input.chunk_size
    chunks = [entries[i : i + size] for i in range(0, len(entries), size)]
    ledger = ChunkLedger(
        store, "segment", cfg.shaping(("input", "split", "scoring", "limits")), (RUN.candidates,), cfg.output.replace
    )
    done = ledger.committed({c: [r["uri"] for r in rows] for c, rows in enumerate(chunks)})
    todo = {c: rows for c, rows in enumerate(chunks) if c not in done}
    log.info("segment pass: %d chunks of up to %d inputs; %d committed by an earlier run", len(chunks), size, len(done))
    budget = BugBudget(cfg.errors.max_fraction, sum(len(rows) for rows in todo.values()))
    assembler = ChunkAssembler(todo, ledger, cfg.output.rows_per_shard, budget)
    videos = assembler.admit(admit(manifest, cfg.input.policy(store.uri())))
    if videos:
        access = input_access(cfg, store.uri())
        for batch in _scored(cfg, split, access, videos, scoring).iter_batches(batch_format="pyarrow", batch_size=None):
            for row in cast(pa.Table, batch).to_pylist():
                assembler.add(row)
    assembler.finish()
    counts = {"chunks": len(chunks), "committed_before": len(done), "run": len(todo)}
    record_pass(store, "segment", counts, sum(o["rows"] for o in done.values()) + assembler.rows)
    return counts


def _scored(
    cfg, split: SplitSettings, access: InputAccess, videos: list[dict], scoring: ScoreSettings
) -> ray.data.Dataset:
    ds: ray.data.Dataset = ray.data.from_items(videos, override_num_blocks=min(len(videos), MAX_BLOCKS))
    split_gpus = cfg.split.transnet_gpus if split.transnet_device == "cuda" else 0
    tolerate_bugs = cfg.errors.max_fraction > 0
    # the same memory reservation on both keeps the keyframe decode in the split's task (one
    # fetch of a remote input, one decoder child) and out of the CLIP actor, which only scores
    ds = ds.flat_map(SegmentVideo(split, access, tolerate_bugs), num_cpus=1, num_gpus=split_gpus, memory=DECODE_MEMORY)
    short_side = open_clip.get_model_config(scoring.clip.model)["vision_cfg"]["image_size"]
    max_corrupt = cfg.limits.max_corrupt_fraction
    keyframes = DecodeKeyframes(cfg.scoring.keyframes, short_side, access, max_corrupt, tolerate_bugs)
    ds = ds.map(keyframes, num_cpus=1, num_gpus=split_gpus, memory=DECODE_MEMORY)
    # with TransNetV2 on the GPUs, a scoring actor leaves a share of its GPU to the split tasks,
    # which feed it: a whole GPU per actor would let neither run
    gpus = 1 - split_gpus if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    actor_cpus = actor_cpu_share(cfg.scoring.cpus_per_actor, ray.cluster_resources().get("CPU", 0))
    threads = threads_per_actor(cfg.scoring.actors)
    log.info(
        "scoring actors: %s, %s CPU each (%d torch threads on CPU)",
        "1 GPU each" if gpus else "CPU only (the cluster has no GPU)",
        actor_cpus,
        threads,
    )
    return ds.map_batches(
        ScoreSegments,
        fn_constructor_args=(replace(scoring, threads=threads),),
        batch_size=cfg.scoring.batch_size,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(min_size=1, max_size=cfg.scoring.actors),
        num_cpus=actor_cpus,
        num_gpus=gpus,
    )


class ChunkAssembler:
    """Collects pass-1 rows as they stream in (in any order) and commits a chunk as soon as
    every one of its inputs has delivered all its rows. Inputs refused on the driver
    (duplicates, forbidden locations) are rows of their chunk without any video work."""

    def __init__(self, todo: dict[int, list[dict]], ledger: ChunkLedger, rows_per_shard: int, budget: BugBudget):
        self.todo, self.ledger, self.rows_per_shard = todo, ledger, rows_per_shard
        self.rows = 0  # committed by this run
        keys = {c: [e["input_index"] for e in entries] for c, entries in todo.items()}
        self.collector = ChunkCollector(keys, lambda row: row["input_index"], _all_rows, self._commit, budget)

    def admit(self, admission: Admission) -> list[dict]:
        """Record refused inputs, commit chunks that need no video work; the rest to run."""
        videos, refused = [], []
        for entries in self.todo.values():
            for entry in entries:
                row = refusal(entry, admission)
                if row:
                    refused.append(row)
                else:
                    videos.append(entry)
        self.collector.add(refused)
        self.collector.commit_complete()
        return videos

    def add(self, row: dict) -> None:
        self.collector.add([row])

    def finish(self) -> None:
        missing = [self.todo[c][0]["uri"] for c in self.collector.pending()]
        if missing:
            raise RuntimeError(
                f"segment pass ended with chunks incomplete (first inputs: {missing[:5]}); rerun to resume"
            )

    def _commit(self, chunk: int, inputs: dict[int, list[dict]]) -> None:
        writer = self.ledger.writer(chunk, RUN.candidates, CANDIDATES, self.rows_per_shard)
        for index in sorted(inputs):
            for row in sorted(inputs[index], key=lambda r: r.get("segment_index") or 0):
                writer.add(row)
        rows = writer.close()
        self.ledger.commit(chunk, [e["uri"] for e in self.todo[chunk]], {"rows": rows})
        self.rows += rows


def _all_rows(got: list[dict]) -> bool:
    """An input has delivered all its rows (each row says how many its video has)."""
    return bool(got) and len(got) == (got[0]["video_rows"] or 1)


def refusal(entry: dict, admission: Admission) -> dict | None:
    """The candidate row of an input refused before any work, or None."""
    index = entry["input_index"]
    base = {**input_fields(entry), "video_rows": 1}
    if index in admission.refused:
        return {**base, **error_fields("admission", entry["uri"], admission.refused[index])}
    if index in admission.duplicates:
        return {**base, "status": "filtered", "reason": "duplicate_input"}
    return None


def largest_node_cpus() -> float:
    return max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=1)


def threads_per_actor(actors: int) -> int:
    """Torch threads of a CPU actor: its share of the largest node's cores."""
    return max(1, int(largest_node_cpus() // actors))


def actor_cpu_share(wanted: float, total: float) -> float:
    """A scoring actor holds its CPUs for the whole pass; on a small cluster it must leave
    at least one CPU to the decode tasks that feed it, or both wait forever."""
    if total - wanted >= 1:
        return wanted
    fitted = max(0.0, total - 1)
    log.warning(
        "scoring.cpus_per_actor=%s leaves no CPU for decoding on a %s-CPU cluster; using %s", wanted, total, fitted
    )
    return fitted


def split_settings(s, limits, gpus: float) -> SplitSettings:
    """The split stage's settings (`split:` and `limits:`), the detector resolved for a
    cluster with `gpus` GPUs and, for TransNetV2, loaded once here so that a missing package
    stops the job before any work."""
    detector = choose_detector(s.detector, gpus, transnet.installed())
    device = "cuda" if detector == "transnetv2" and gpus >= 1 else "cpu"
    if detector == "transnetv2":
        transnet.load("cpu")
    return SplitSettings(
        mode=s.mode,
        min_seconds=s.min_seconds,
        max_seconds=s.max_seconds,
        blank_seconds=s.blank_seconds,
        cut_params=CutParams(
            min_score=s.cut_min_score,
            ratio=s.cut_ratio,
            # every other detector parameter has the same name in split:
            **{f.name: getattr(s, f.name) for f in fields(CutParams) if f.name in type(s).model_fields},
        ),
        limits=WorkLimits(
            max_frames=limits.max_frames_per_input,
            max_segments=limits.max_segments_per_input,
            max_frame_gap_s=limits.max_frame_gap_s,
            max_corrupt_fraction=limits.max_corrupt_fraction,
        ),
        detector=detector,
        transnet_threshold=s.transnet_threshold,
        transnet_device=device,
    )


def choose_detector(requested: str, gpus: float, installed: bool) -> str:
    """`split.detector` as run: auto is TransNetV2 on a cluster with a GPU, where it is
    installed, and the fast detector otherwise."""
    if requested != "auto":
        return requested
    if gpus < 1:
        chosen, why = "fast", "the cluster has no GPU"
    elif not installed:
        chosen, why = "fast", f"TransNetV2 is not installed ({transnet.INSTALL})"
    else:
        chosen, why = "transnetv2", f"the cluster has {gpus:g} GPUs"
    log.info("split.detector auto: %s, because %s", chosen, why)
    return chosen
