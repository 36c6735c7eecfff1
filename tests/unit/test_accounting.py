"""Every input ends kept, filtered or errored, with a reason, and the counts add up."""

from __future__ import annotations

import pytest

from cluster.accounting import AccountingError, check, summarize


def _row(index: int, segment: str | None, status: str = "ok", reason: str | None = None, **error: str) -> dict:
    return {"input_index": index, "segment_id": segment, "status": status, "reason": reason, **error}


def test_each_input_ends_with_one_outcome_and_the_counts_add_up():
    manifest = [{"uri": f"v{i}.mp4"} for i in range(4)]
    candidates = [
        _row(0, "a"),
        _row(0, "b"),
        _row(1, "c"),
        _row(2, None, "filtered", "extreme_aspect_ratio"),
        _row(3, None, "error", stage="probe", error_type="ProbeError"),
    ]
    accounting, per_input = summarize(manifest, candidates, {"b": "near_duplicate"}, {"a"}, {"c": "write_media:X"})
    assert [p["outcome"] for p in per_input] == ["kept", "errored", "filtered", "errored"]
    assert accounting.balanced and (accounting.videos.kept, accounting.videos.errored) == (1, 2)
    assert accounting.segments.filtered_by_reason == {"extreme_aspect_ratio": 1, "near_duplicate": 1}
    assert accounting.videos.errored_by_reason == {"probe:ProbeError": 1, "write_media:X": 1}
    check(accounting)


def test_an_input_without_rows_unbalances_the_run_and_is_named():
    accounting, _ = summarize([{"uri": "lost.mp4"}], [], {}, set(), {})
    assert not accounting.balanced
    with pytest.raises(AccountingError, match=r"lost\.mp4"):
        check(accounting)
