"""Actor stages run one after another in one actor process.

Ray Data fuses task stages into the stage after them, but never one actor stage into
another: each would start its own process and import its own torch. Chained holds several
stages in one actor, each applied to the output of the one before, as Ray Data's fusion
does for tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

Stage = tuple[Callable[..., Callable[[pa.Table], pa.Table]], tuple[Any, ...]]


class Chained:
    """Actor class for `map_batches(..., batch_format="pyarrow")`: built from (stage class,
    constructor arguments) pairs."""

    def __init__(self, *stages: Stage):
        self.stages = [make(*args) for make, args in stages]

    def __call__(self, batch: pa.Table) -> pa.Table:
        for stage in self.stages:
            batch = stage(batch)
        return batch
