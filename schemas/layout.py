"""The folders and files of a run's output root, named once: every pass, the report and the
exports find each other's output through these names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunLayout:
    candidates: str = "candidates"  # pass 1: one row per segment, every score
    selection: str = "selection"  # pass 2: keep or drop, and why
    selection_settings: str = "selection_settings.json"  # the thresholds and caps selection/ was made with
    dataset: str = "dataset"  # pass 3: the samples
    errors: str = "errors"  # pass 3: one row per errored input or segment
    media: str = "media"  # frames and clips the samples refer to
    report: str = "report"
    progress: str = "_progress"  # commit markers (cluster/progress.py)
    lease: str = "_lease.json"  # the run that holds the root (cluster/lease.py)
    summary: str = "summary.json"
    inputs: str = "inputs.parquet"  # every input with its outcome
    config: str = "config.yaml"  # the config the run was made with
    trainer_args: str = "trainer_args.json"
    dataset_info: str = "dataset_info.json"  # LLaMA-Factory's, for the dataset in place


RUN = RunLayout()

# report/ plots the select pass draws (the rest of the report is drawn from the finished run)
SELECTION_PLOTS = ("cluster_sizes.png", "drop_reasons.png", "duplicate_pairs.png")
