"""Chunks commit when complete, and bugs let through by errors.max_fraction are counted."""

from __future__ import annotations

import pytest

from cluster.progress import BugBudget, ChunkCollector, TooManyBugs
from cluster.stages.errors import INPUT_ERRORS, caught, failed_row
from cluster.video.probe import ProbeError


def test_a_chunk_is_committed_once_every_key_of_it_is_complete_whatever_the_order():
    committed = []
    collector = ChunkCollector(
        {0: ["a", "b"], 1: ["c"], 2: []},
        key=lambda row: row["id"],
        complete=lambda got: len(got) == 2,  # each key delivers two rows
        commit=lambda chunk, rows: committed.append((chunk, {k: [r["n"] for r in v] for k, v in rows.items()})),
        budget=BugBudget(0.0, 3),
    )
    collector.commit_complete()
    assert committed == [(2, {})]
    collector.add([{"id": "a", "n": 1}, {"id": "c", "n": 2}, {"id": "b", "n": 3}])
    assert collector.incomplete() == ["a", "b", "c"] and len(committed) == 1
    collector.add([{"id": "b", "n": 4}, {"id": "a", "n": 5}])
    assert committed[1] == (0, {"a": [1, 5], "b": [3, 4]})
    assert collector.incomplete() == ["c"]


def _bug(key: str) -> dict:
    return {"id": key, "n": 0, "reason": "bug", "stage": "probe", "error_type": "KeyError", "error_message": key}


def test_bugs_within_max_fraction_pass_and_the_next_stops_before_its_chunk_commits():
    committed = []
    collector = ChunkCollector(
        {0: ["a", "b"], 1: ["c", "d"], 2: ["e"]},
        key=lambda row: row["id"],
        complete=lambda got: len(got) == 1,
        commit=lambda chunk, rows: committed.append(chunk),
        budget=BugBudget(0.25, 5),  # one input of five may fail on a bug
    )
    collector.add([_bug("a"), {"id": "b", "n": 1}])
    assert committed == [0]
    expected = r"2 of 5 inputs failed on a bug.*max_fraction=0.25 allows \(1\).*KeyError: a"
    with pytest.raises(TooManyBugs, match=expected):
        collector.add([{"id": "c", "n": 2}, _bug("d")])
    assert committed == [0]


def test_an_input_with_several_bug_rows_counts_once():
    budget = BugBudget(0.5, 2)
    budget.check("a", _bug("a"))
    budget.check("a", _bug("a"))
    assert list(budget.failed) == ["a"]


def test_rows_that_failed_on_their_input_do_not_count_as_bugs():
    budget = BugBudget(0.0, 1)
    budget.check("a", {"status": "error", "reason": None, "error_type": "ProbeError"})
    assert budget.failed == {}


def test_a_stage_catches_bugs_only_when_told_to_and_marks_their_rows():
    assert caught(tolerate_bugs=False) == INPUT_ERRORS
    assert caught(tolerate_bugs=True) == (Exception,)
    assert "reason" not in failed_row("probe", "v.mp4", ProbeError("v.mp4: not a video"))
    row = failed_row("probe", "v.mp4", KeyError("segment_id"))
    assert (row["status"], row["reason"], row["error_type"]) == ("error", "bug", "KeyError")
