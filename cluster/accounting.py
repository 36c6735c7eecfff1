"""Every input ends kept, filtered with a reason, or errored with a reason; counts add up."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


class AccountingError(RuntimeError):
    """Some inputs are not accounted for; the message lists them."""


@dataclass(frozen=True)
class VideoCounts:
    kept: int
    filtered: int
    errored: int
    filtered_by_reason: dict[str, int]
    errored_by_reason: dict[str, int]


@dataclass(frozen=True)
class SegmentCounts:
    total: int
    kept: int
    filtered_by_reason: dict[str, int]
    errored_by_reason: dict[str, int]


@dataclass(frozen=True)
class Accounting:
    """Where every input of the manifest ended, and its segments."""

    inputs: int
    videos: VideoCounts
    segments: SegmentCounts
    missing_inputs: list[str]

    @property
    def balanced(self) -> bool:
        v = self.videos
        return not self.missing_inputs and v.kept + v.filtered + v.errored == self.inputs


def summarize(
    manifest: list[dict],
    candidates: list[dict],
    selection: dict[str, str | None],
    samples: set[str],
    errors: dict[str, str],
) -> tuple[Accounting, list[dict]]:
    """Where every input ended, and each input's outcome (uri, kept/filtered/errored, reason).

    `selection` maps segment id → drop reason (None when kept), `samples` holds the segment
    ids that became samples, `errors` maps segment id → "stage:ErrorType" for pass-3 failures.
    """
    by_input: dict[int, list[dict]] = {}
    for row in candidates:
        by_input.setdefault(row["input_index"], []).append(row)

    videos: dict[str, Counter] = {"kept": Counter(), "filtered": Counter(), "errored": Counter()}
    segments: dict[str, Counter] = {"kept": Counter(), "filtered": Counter(), "errored": Counter()}
    missing = []
    per_input = []
    for index, entry in enumerate(manifest):
        rows = by_input.get(index)
        if not rows:
            missing.append(entry["uri"])
            per_input.append({"input_index": index, "uri": entry["uri"], "outcome": "missing", "reason": None})
            continue
        outcomes = [_segment_outcome(r, selection, samples, errors) for r in rows]
        for outcome, reason in outcomes:
            segments[outcome][reason] += 1
        videos_outcome, reason = _video_outcome(outcomes)
        videos[videos_outcome][reason] += 1
        per_input.append({"input_index": index, "uri": entry["uri"], "outcome": videos_outcome, "reason": reason})

    totals = {k: sum(v.values()) for k, v in videos.items()}
    accounting = Accounting(
        inputs=len(manifest),
        videos=VideoCounts(
            kept=totals["kept"],
            filtered=totals["filtered"],
            errored=totals["errored"],
            filtered_by_reason=dict(sorted(videos["filtered"].items())),
            errored_by_reason=dict(sorted(videos["errored"].items())),
        ),
        segments=SegmentCounts(
            total=sum(sum(c.values()) for c in segments.values()),
            kept=sum(segments["kept"].values()),
            filtered_by_reason=dict(sorted(segments["filtered"].items())),
            errored_by_reason=dict(sorted(segments["errored"].items())),
        ),
        missing_inputs=missing,
    )
    return accounting, per_input


def check(accounting: Accounting) -> None:
    if not accounting.balanced:
        v = accounting.videos
        raise AccountingError(
            f"{accounting.inputs} inputs but kept {v.kept} + filtered {v.filtered} + errored {v.errored}; "
            f"unaccounted: {accounting.missing_inputs[:20]}"
        )


def _segment_outcome(row: dict, selection: dict, samples: set, errors: dict) -> tuple[str, str]:
    if row["status"] == "error":
        return "errored", f"{row['stage']}:{row['error_type']}"
    sid = row["segment_id"]
    drop = selection.get(sid, row["reason"]) if sid else row["reason"] or "no_segment"
    if drop:
        return "filtered", drop
    if sid in samples:
        return "kept", "sample"
    return "errored", errors.get(sid, "materialize:missing")


def _video_outcome(outcomes: list[tuple[str, str]]) -> tuple[str, str]:
    """Kept if any segment became a sample; otherwise the most common reason it did not."""
    kinds = Counter(kind for kind, _ in outcomes)
    if kinds["kept"]:
        return "kept", "sample"
    kind = "errored" if kinds["errored"] else "filtered"
    reason = Counter(r for k, r in outcomes if k == kind).most_common(1)[0][0]
    return kind, reason
