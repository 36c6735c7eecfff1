"""`report/index.html`: how a run went, on one page a user opens in a browser. The funnel from
inputs to samples with every drop reason, score histograms against the thresholds that
were applied, tokens per sample with the cutoff_len that fits them, cluster sizes, and a
gallery of samples with their captions. Reads only the run's output tables."""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import yaml

from cluster.progress import committed_files, step_files, step_marker
from cluster.report import figures
from cluster.report.gallery import Tile, build_gallery
from cluster.store import Store
from cluster.usage import UsageError
from schemas.layout import RUN, SELECTION_PLOTS
from schemas.tables import CANDIDATES, DATASET, DEDUP_REASONS, SELECTION

GALLERY_SIZE = 24
RUN_OUTPUTS = (
    RUN.summary,
    RUN.selection_settings,
    RUN.config,
    RUN.trainer_args,
    *(step_marker(step) for step in ("segment", "select", "materialize")),
)


class ReportError(UsageError):
    """The output root lacks what the report is built from."""


def write_report(store: Store) -> str:
    """Write `report/` under the output root and return where its index.html is. The page
    is drawn in a temporary folder, then written through the store."""
    for needed in RUN_OUTPUTS:
        if not store.exists(needed):
            raise ReportError(f"{store.uri(needed)} does not exist; the report needs a finished run (vidcurate run)")
    with tempfile.TemporaryDirectory(prefix="vidcurate-report-") as tmp:
        _draw(store, Path(tmp))
        store.upload(tmp, RUN.report)
    return store.uri(f"{RUN.report}/index.html")


def _draw(store: Store, folder: Path) -> None:
    summary = store.read_json(RUN.summary)
    filters = store.read_json(RUN.selection_settings)["filters"]
    config = yaml.safe_load(store.read_text(RUN.config))
    trainer = store.read_json(RUN.trainer_args)

    candidates = store.dataset(committed_files(store, "segment", RUN.candidates), CANDIDATES).to_table(
        columns=[
            "input_index",
            "segment_id",
            "duration_s",
            "display_aspect_ratio",
            "aesthetic",
            "clip_similarity",
            "scores_meaningful",
        ],
        filter=pc.is_valid(pc.field("segment_id")),
    )
    reasons = (
        store.dataset(step_files(store, "select"), SELECTION)
        .to_table(columns=["drop_reason"], filter=pc.is_valid(pc.field("segment_id")))
        .column("drop_reason")
    )
    dataset = store.dataset(committed_files(store, "materialize", RUN.dataset), DATASET)
    counts = dataset.to_table(columns=["total_tokens", "text_tokens"])
    tokens = counts.column("total_tokens").to_numpy(zero_copy_only=False).astype(np.int64)
    text_counted = counts.num_rows > 0 and counts.column("text_tokens").null_count == 0

    stages = _funnel_stages(summary, candidates, reasons)
    segments = summary["segments"]
    plots = {
        "funnel": figures.funnel(
            stages, segments["filtered_by_reason"], segments["errored_by_reason"], folder / "funnel.png"
        ),
    }
    for dist in _distributions(candidates, filters, config["split"]):
        plots[dist.name] = figures.histogram(dist, folder / f"{dist.name.replace(' ', '_')}.png")
    budget = config["tokens"].get("max_total_tokens")
    plots["tokens"] = figures.tokens_per_sample(tokens, trainer["profile"], text_counted, budget, folder / "tokens.png")
    for written in SELECTION_PLOTS:  # drawn by the select pass (dedup.report), already in report/
        if store.exists(f"{RUN.report}/{written}"):
            plots[Path(written).stem] = folder / written
    tiles = build_gallery(store, dataset, folder / "gallery", GALLERY_SIZE)

    random_scores = False in candidates.column("scores_meaningful").to_pylist()
    page = _page(store, summary, stages, plots, Tokens(tokens, text_counted, trainer["profile"]), tiles, random_scores)
    (folder / "index.html").write_text(page)


def _funnel_stages(summary: dict, candidates, reasons) -> list[tuple[str, int]]:
    drop = reasons.to_pylist()
    return [
        ("inputs", summary["inputs"]),
        ("videos cut into segments", len(set(candidates.column("input_index").to_pylist()))),
        ("segments", candidates.num_rows),
        ("passed the thresholds", sum(1 for r in drop if r is None or r in DEDUP_REASONS)),
        ("selected (dedup and caps)", sum(1 for r in drop if r is None)),
        ("segments with samples", summary["segments"]["kept"]),
        ("samples", summary["samples"]),
    ]


def _distributions(candidates, filters: dict, split: dict) -> list[figures.Distribution]:
    def column(name: str) -> np.ndarray:
        return candidates.column(name).to_numpy(zero_copy_only=False).astype(np.float64)

    return [
        figures.Distribution("duration", "seconds", column("duration_s"), split["min_seconds"], split["max_seconds"]),
        figures.Distribution(
            "display aspect ratio",
            "width / height on screen",
            column("display_aspect_ratio"),
            filters["min_aspect_ratio"],
            filters["max_aspect_ratio"],
        ),
        figures.Distribution("aesthetic", "aesthetic score", column("aesthetic"), filters["min_aesthetic"]),
        figures.Distribution(
            "clip similarity",
            "CLIP keyframes vs manifest text",
            column("clip_similarity"),
            filters["min_clip_similarity"],
        ),
    ]


@dataclass(frozen=True)
class Tokens:
    per_sample: np.ndarray  # total_tokens of every sample
    text_counted: bool  # whether the totals include text (tokens.tokenizer was set)
    profile: str


def _page(
    store: Store, summary: dict, stages, plots: dict[str, Path], tokens: Tokens, tiles: list[Tile], random_scores: bool
) -> str:
    esc = html.escape
    videos = summary["videos"]
    if summary["balanced"]:
        accounting = "Every input is accounted for"
    else:
        missing = ", ".join(esc(uri) for uri in summary["missing_inputs"][:20])
        accounting = f'<span class="warn">Not every input is accounted for (missing: {missing})</span>'
    scores_note = (
        '<p class="warn">Scores come from randomly initialised models (scoring.preset: random): '
        "they carry no meaning.</p>"
        if random_scores
        else ""
    )
    rows = "".join(f"<tr><td>{esc(name)}</td><td>{count}</td></tr>" for name, count in stages)
    video_rows = "".join(
        f"<tr><td>{esc(outcome)}: {esc(reason)}</td><td>{n}</td></tr>"
        for outcome in ("filtered", "errored")
        for reason, n in sorted(videos[f"{outcome}_by_reason"].items())
    )
    cutoffs = "".join(
        f"<tr><td>{share:.0%}</td><td>{figures.cutoff_covering(tokens.per_sample, share)}</td></tr>"
        for share in (1.0, 0.99)
    )
    if tokens.text_counted:
        counted = (
            "Image and video tokens plus the text of each conversation as the trainer's tokenizer and chat "
            "template render it: a sample's total is its sequence length, and the cutoff_len below fits it."
        )
    else:
        counted = (
            "Image and video pad tokens plus vision start/end tokens. Text is not counted; add your prompt and "
            "caption tokens to the cutoff_len below, or set <code>tokens.tokenizer</code> to count them."
        )
    gallery = "".join(_tile_html(t) for t in tiles) or "<p>No samples were written.</p>"

    def img(key: str, alt: str) -> str:
        return _img(plots[key].name, alt) if key in plots else ""

    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vidcurate report: {esc(store.uri())}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.7em; text-align: left; }}
img[data-state="missing"] {{ outline: 3px solid #b23a48; min-width: 200px; min-height: 40px; }}
.plots img {{ max-width: 49%; }}
.gallery {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 1em; }}
.tile {{ border: 1px solid #ddd; padding: 0.5em; font-size: 0.85em; }}
.tile img {{ width: 100%; }}
.warn {{ color: #b23a48; font-weight: bold; }}
</style></head>
<body>
<h1>vidcurate report</h1>
<p>Output root <code>{esc(store.uri())}</code>: {summary["inputs"]} inputs, {summary["samples"]} samples.
{accounting}: {videos["kept"]} kept, {videos["filtered"]} filtered, {videos["errored"]} errored
(<code>inputs.parquet</code> gives each input's outcome, <code>errors/</code> each error).</p>
{scores_note}
<h2>Funnel</h2>
{img("funnel", "funnel from inputs to samples, and segments dropped by reason")}
<table><tr><th>stage</th><th>count</th></tr>{rows}</table>
<table><tr><th>videos without samples</th><th>inputs</th></tr>{video_rows}</table>

<h2>Distributions and thresholds</h2>
<div class="plots">
{img("duration", "segment durations with the split limits")}
{img("display aspect ratio", "display aspect ratios with the thresholds")}
{img("aesthetic", "aesthetic scores with the threshold")}
{img("clip similarity", "CLIP similarity with the threshold")}
</div>

<h2>Tokens per sample</h2>
<p>Counts for <code>{esc(tokens.profile)}</code>. {counted}</p>
{img("tokens", "tokens per sample with the cutoff_len covering 100% and 99%")}
<table><tr><th>samples that fit</th><th>cutoff_len</th></tr>{cutoffs}</table>

<h2>Clusters</h2>
<div class="plots">
{img("cluster_sizes", "cluster sizes")}
{img("duplicate_pairs", "near-duplicate pairs, dropped beside kept")}
</div>
{"" if "cluster_sizes" in plots else "<p>No cluster plots: dedup or dedup.report is off for this run.</p>"}

<h2>Samples</h2>
<div class="gallery">{gallery}</div>
</body></html>
"""


def _tile_html(tile: Tile) -> str:
    esc = html.escape
    status = "" if tile.caption_status == "captioned" else f'<p class="warn">caption: {esc(tile.caption_status)}</p>'
    return (
        f'<div class="tile">{_img(tile.thumbnail, f"keyframe of {tile.sample_id}")}'
        f"<p><code>{esc(tile.sample_id)}</code> · cluster {tile.cluster_id} · {esc(tile.span)}"
        f" · {tile.tokens} tokens</p>"
        f"{status}<p>{esc(tile.answer)}</p></div>"
    )


def _img(src: str, alt: str) -> str:
    """An image that marks itself loaded or missing, so a copied report missing its PNGs shows it."""
    return (
        f'<img src="{html.escape(src)}" alt="{html.escape(alt)}" '
        "onload=\"this.dataset.state='loaded'\" onerror=\"this.dataset.state='missing'\">"
    )
