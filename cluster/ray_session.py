"""Connect to the cluster a job runs on, or start a local Ray when there is none."""

from __future__ import annotations

import logging
import os

import ray

log = logging.getLogger(__name__)

# Arrow's default allocator keeps freed memory in long-lived workers; the system allocator
# hands it back, so a worker's RSS follows its current batch. (infra/runtime_env.yaml sets
# the same for submitted jobs.)
WORKER_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system"}


def connect(address: str | None, num_cpus: int | None) -> None:
    """`ray job submit` sets RAY_ADDRESS, so a submitted job joins its cluster; a plain
    `python -m jobs.curate` without an address starts a local Ray for the run."""
    if ray.is_initialized():
        return
    target = address or os.environ.get("RAY_ADDRESS")
    if target:
        ray.init(address=target, log_to_driver=True)
        log.info("joined Ray cluster at %s", target)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env={"env_vars": WORKER_ENV})
        log.info("started a local Ray with %s CPUs", ray.cluster_resources().get("CPU"))
