"""Pass-3 stage, first in the captioner's actor on CPU: before each batch, the actor's torch
threads are set to the cores the node's other processes left idle (cluster/idle_cores.py),
so the captioner and the CLIP text tower after it run on the cores the media tasks do not
use, and on all of them once those are done. The batch passes through unchanged."""

from __future__ import annotations

import pyarrow as pa
import torch

from cluster.idle_cores import IdleCores


class BorrowIdleCores:
    """Callable for `map_batches(..., batch_format="pyarrow")` in a CPU actor."""

    def __init__(self, limit: int):
        self.idle = IdleCores(limit)

    def __call__(self, batch: pa.Table) -> pa.Table:
        torch.set_num_threads(self.idle())
        return batch
