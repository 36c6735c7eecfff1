"""The captioner's actor: its stages chained in one process, and its torch threads taken
from the cores the node's other processes leave idle (measured against a real busy process
in tests/e2e/test_idle_cores.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest
import torch

from cluster.idle_cores import threads_for
from cluster.stages.chained import Chained
from cluster.stages.idle_cores_stage import BorrowIdleCores


class Append:
    def __init__(self, name: str):
        self.name = name

    def __call__(self, batch: pa.Table) -> pa.Table:
        return batch.append_column(self.name, pa.array([self.name] * batch.num_rows))


def test_chained_stages_run_in_order_on_each_batch():
    chained = Chained((Append, ("first",)), (Append, ("second",)))
    out = chained(pa.table({"id": [1, 2]}))
    assert out.column_names == ["id", "first", "second"]
    assert out.num_rows == 2


@pytest.mark.parametrize(
    ("idle", "limit", "threads"),
    [(0.0, 4, 1), (0.4, 4, 1), (1.6, 4, 2), (3.9, 4, 4), (15.0, 4, 4), (8.0, 1, 1)],
)
def test_threads_follow_the_idle_cores_within_one_and_the_limit(idle, limit, threads):
    assert threads_for(idle, limit) == threads


def test_the_stage_sets_torch_threads_and_passes_the_batch_through():
    before = torch.get_num_threads()
    batch = pa.table({"id": [1]})
    try:
        assert BorrowIdleCores(limit=1)(batch) is batch
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
