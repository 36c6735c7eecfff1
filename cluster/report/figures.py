"""The report's plots: the funnel with its drop reasons, score histograms with the
thresholds drawn, and tokens per sample with the cutoff_len that covers them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

KEPT, DROPPED, ERRORED, LINE = "#3a7d44", "#c98b2b", "#b23a48", "#1d3557"


@dataclass(frozen=True)
class Distribution:
    """One histogram: the values and the thresholds a row had to stay within."""

    name: str
    label: str
    values: np.ndarray
    low: float | None = None
    high: float | None = None


def funnel(stages: list[tuple[str, int]], dropped: dict[str, int], errored: dict[str, int], path: Path) -> Path:
    """Counts from inputs to samples beside the count of every drop reason."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, max(3.2, 0.42 * max(len(stages), len(dropped) + len(errored)) + 1.2))
    )
    names = [name for name, _ in stages]
    counts = [count for _, count in stages]
    left.barh(names, counts, color=LINE)
    left.invert_yaxis()
    for y, count in enumerate(counts):
        left.text(count, y, f" {count}", va="center", fontsize=8)
    left.set(title="from inputs to samples", xlabel="count")
    left.set_xlim(0, max(counts, default=1) * 1.18 or 1)

    reasons = [(r, n, DROPPED) for r, n in sorted(dropped.items(), key=lambda kv: -kv[1])]
    reasons += [(r, n, ERRORED) for r, n in sorted(errored.items(), key=lambda kv: -kv[1])]
    if reasons:
        right.barh([r for r, _, _ in reasons], [n for _, n, _ in reasons], color=[c for _, _, c in reasons])
        right.invert_yaxis()
        for y, (_, n, _) in enumerate(reasons):
            right.text(n, y, f" {n}", va="center", fontsize=8)
        right.set_xlim(0, max(n for _, n, _ in reasons) * 1.18)
    else:
        right.text(0.5, 0.5, "nothing dropped", ha="center", va="center", transform=right.transAxes)
    right.set(title="segments dropped (filtered; errored in red)", xlabel="segments")
    return save_figure(fig, path)


def histogram(dist: Distribution, path: Path) -> Path:
    """The values' histogram, the thresholds as lines, and how many fall outside each."""
    fig, ax = plt.subplots(figsize=(5.4, 3.3))
    values = dist.values[np.isfinite(dist.values)]
    if values.size:
        ax.hist(values, bins=min(40, max(5, values.size // 2)), color=KEPT, alpha=0.85)
    else:
        ax.text(0.5, 0.5, "no values (not computed for these rows)", ha="center", va="center", transform=ax.transAxes)
    for bound, side in ((dist.low, "below"), (dist.high, "above")):
        if bound is None:
            continue
        outside = int((values < bound).sum() if side == "below" else (values > bound).sum())
        ax.axvline(bound, color=ERRORED, linestyle="--", linewidth=1.4, label=f"{side} {bound:g}: {outside} dropped")
    if dist.low is not None or dist.high is not None:
        ax.legend(fontsize=7, loc="upper right")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))  # narrow ranges (random scores) otherwise crowd the labels
    ax.set(title=f"{dist.name} ({values.size} segments)", xlabel=dist.label, ylabel="segments")
    return save_figure(fig, path)


def cutoff_covering(tokens: np.ndarray, share: float) -> int:
    """The smallest cutoff_len that at least `share` of the samples fit within."""
    if tokens.size == 0:
        return 0
    ordered = np.sort(tokens)
    return int(ordered[max(0, int(np.ceil(share * ordered.size)) - 1)])


def tokens_per_sample(tokens: np.ndarray, profile: str, text_counted: bool, budget: int | None, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    if tokens.size:
        ax.hist(tokens, bins=min(50, max(5, tokens.size // 2)), color=LINE, alpha=0.85)
        for share, style in ((1.0, "-"), (0.99, "--")):
            cutoff = cutoff_covering(tokens, share)
            ax.axvline(cutoff, color=ERRORED, linestyle=style, label=f"cutoff_len {cutoff}: {share:.0%} of samples fit")
    if budget is not None:
        ax.axvline(budget, color=DROPPED, linestyle=":", label=f"max_total_tokens {budget}")
    if tokens.size or budget is not None:
        ax.legend(fontsize=7, loc="upper right")
    kind = "tokens (text included)" if text_counted else "visual tokens"
    ax.set(title=f"{kind} per sample, {profile} ({tokens.size} samples)", xlabel="tokens", ylabel="samples")
    return save_figure(fig, path)


def save_figure(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
