"""Where the captioner runs, decided on the driver before any actor starts.

An actor that asks for a GPU on a cluster without one waits forever, so a GPU backend on a
CPU-only cluster fails here with a message, or moves to CPU when the config allows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cluster.caption.requests import CaptionUnavailable
from cluster.caption.settings import CaptionConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    device: str  # cuda | cpu
    num_gpus: float
    num_cpus: float


def place_captioner(cfg: CaptionConfig, cluster_gpus: float) -> Placement:
    if cfg.backend == "openai":
        placement = Placement("cpu", 0, cfg.cpus_per_replica)
    elif cfg.backend == "vllm":
        placement = Placement("cuda", max(cfg.gpus_per_replica, cfg.vllm.tensor_parallel_size), cfg.cpus_per_replica)
        if cluster_gpus < placement.num_gpus and not cfg.expect_gpus:
            raise CaptionUnavailable(
                f"caption.backend=vllm needs {placement.num_gpus:g} GPU(s) per replica but the cluster has "
                f"{cluster_gpus:g}. Add GPU workers (set caption.expect_gpus: true when they autoscale from zero), "
                "or use caption.backend=openai against a served model, or transformers on CPU."
            )
    else:
        placement = _local_placement(cfg, cluster_gpus)
    log.info(
        "captioner %s: %d replica(s) on %s, %g GPU and %g CPU each",
        cfg.backend,
        cfg.replicas,
        placement.device,
        placement.num_gpus,
        placement.num_cpus,
    )
    return placement


def _local_placement(cfg: CaptionConfig, cluster_gpus: float) -> Placement:
    has_gpus = cluster_gpus >= cfg.gpus_per_replica or cfg.expect_gpus
    if cfg.device == "cpu" or (cfg.device == "auto" and not has_gpus):
        return Placement("cpu", 0, cfg.cpus_per_replica)
    if has_gpus:
        return Placement("cuda", cfg.gpus_per_replica, cfg.cpus_per_replica)
    if cfg.allow_cpu_fallback:
        log.warning("caption.device=cuda but the cluster has no GPU; captioning on CPU (caption.allow_cpu_fallback)")
        return Placement("cpu", 0, cfg.cpus_per_replica)
    raise CaptionUnavailable(
        f"caption.device=cuda but the cluster has {cluster_gpus:g} GPU(s) and each replica needs "
        f"{cfg.gpus_per_replica:g}. Add GPU workers, set caption.device: auto (or cpu), or set "
        "caption.allow_cpu_fallback: true."
    )
