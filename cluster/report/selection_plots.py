"""Report pieces for pass 2: cluster sizes, drop reasons, and example duplicate pairs
(keyframes side by side) so a user can judge eps."""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pyarrow.dataset as pads

from cluster.report.figures import save_figure
from cluster.sources import read
from cluster.stages.errors import INPUT_ERRORS
from cluster.stages.inputs import InputAccess, opened
from cluster.store import Store
from cluster.video.decode import read_frames_at
from cluster.video.guard import guarded
from schemas.layout import RUN, SELECTION_PLOTS
from schemas.tables import CANDIDATES, SELECTION

log = logging.getLogger(__name__)
PAIRS = 6
THUMB = (144, 256)


def write_selection_report(
    store: Store, selection_files: list[str], candidate_files: list[str], access: InputAccess
) -> list[str]:
    """The select pass's plots, drawn in a temporary folder and written to report/; the
    duplicate pairs' keyframes are decoded from the inputs as `access` allows."""
    selection = store.dataset(selection_files, SELECTION).to_table(
        columns=["segment_id", "cluster_id", "drop_reason", "duplicate_of"]
    )
    with tempfile.TemporaryDirectory(prefix="vidcurate-plots-") as tmp:
        sizes, reasons, duplicates = (Path(tmp) / name for name in SELECTION_PLOTS)
        written = [_cluster_sizes(selection, sizes), _drop_reasons(selection, reasons)]
        pairs = [(r["segment_id"], r["duplicate_of"]) for r in selection.to_pylist() if r["duplicate_of"]][:PAIRS]
        if store.exists(
            f"{RUN.report}/{duplicates.name}"
        ):  # a rerun that finds none must not show the last run's pairs
            store.delete([f"{RUN.report}/{duplicates.name}"])
        if pairs:
            written.append(_duplicate_pairs(store.dataset(candidate_files, CANDIDATES), pairs, duplicates, access))
        store.upload(tmp, RUN.report)
    return [f"{RUN.report}/{p.name}" for p in written]


def _cluster_sizes(selection, path: Path) -> Path:
    sizes = sorted(
        Counter(c for c in selection.column("cluster_id").to_pylist() if c is not None).values(), reverse=True
    )
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(range(len(sizes)), sizes, width=1.0)
    ax.set(
        xlabel="cluster (largest first)",
        ylabel="segments",
        title=f"{len(sizes)} clusters, {sum(sizes)} clustered segments",
    )
    return save_figure(fig, path)


def _drop_reasons(selection, path: Path) -> Path:
    reasons = Counter(r or "kept" for r in selection.column("drop_reason").to_pylist())
    labels = sorted(reasons, key=lambda reason: reasons[reason], reverse=True)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh(labels, [reasons[label] for label in labels])
    ax.invert_yaxis()
    ax.set(xlabel="segments", title="selection outcome")
    return save_figure(fig, path)


def _duplicate_pairs(candidates: pads.Dataset, pairs: list[tuple[str, str]], path: Path, access: InputAccess) -> Path:
    wanted = {s for pair in pairs for s in pair}
    rows = {
        r["segment_id"]: r for r in candidates.to_table(filter=pads.field("segment_id").isin(list(wanted))).to_pylist()
    }
    fig, axes = plt.subplots(len(pairs), 2, figsize=(6, 1.9 * len(pairs)), squeeze=False)
    for (dup, kept), (left, right) in zip(pairs, axes, strict=True):
        for ax, segment, label in ((left, dup, "dropped"), (right, kept, "kept")):
            shown = label
            try:
                ax.imshow(_keyframe(rows[segment], access))
            except INPUT_ERRORS as exc:  # the input went away since pass 1: the plot says so
                log.warning("duplicate pairs: no keyframe of %s (%s)", segment, exc)
                shown = f"{label} (unreadable now)"
            ax.set_title(f"{shown} {segment[:9]} @{rows[segment]['start_s']:.1f}s", fontsize=7)
            ax.axis("off")
    return save_figure(fig, path)


def _keyframe(row: dict, access: InputAccess):
    times = row["keyframe_times"] or [(row["start_s"] + row["end_s"]) / 2]
    probe = row["probe"]
    h = THUMB[0]
    w = max(1, round(h * probe["display_width"] / probe["display_height"]))
    with opened(row["uri"], access, row["source_fingerprint"]) as source:
        args = ([times[len(times) // 2]], probe["start_time"], probe["rotation"], (h, w))
        return guarded(access.guard, row["uri"], 0.0, read, source, read_frames_at, *args)[0]
