"""What the jobs share: `--config` and `--set key=value` parsing, logging, the run's output
folder, and exit codes (2: fix the input, config or order of passes; 3: accounting failed)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from cluster.accounting import AccountingError
from cluster.caption.backends import CaptionUnavailable
from cluster.pipeline.segment_pass import ScoringUnavailable
from cluster.report.dataset_report import ReportError
from cluster.tokens.text import TokenizerUnavailable
from jobs.config import Config, ConfigError, load_config
from jobs.manifest import ManifestError
from schemas.exports import ExportError


class PassOrderError(ValueError):
    """A pass was started before the one it reads from has run."""


USAGE_ERRORS = (
    ConfigError, ManifestError, ScoringUnavailable, CaptionUnavailable, TokenizerUnavailable, PassOrderError, ReportError, ExportError
)


def parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. --set split.max_seconds=10")
        overrides[key] = yaml.safe_load(value)
    return overrides


def output_root(cfg: Config) -> Path:
    """The run's output folder, with the config it was run under beside the results."""
    root = Path(cfg.output.root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    return root


def require(out_root: Path, folders: tuple[str, ...], producer: str) -> None:
    for folder in folders:
        if not (out_root / folder).is_dir():
            raise PassOrderError(f"{out_root / folder} does not exist; run {producer} first")


def config_job(prog: str, description: str, work: Callable[[Config], dict], argv: list[str] | None) -> int:
    """Parse the command line, run `work` on the validated config, and print its result."""
    parser = argparse.ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="YAML config (see jobs/configs/example.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = work(load_config(args.config, parse_overrides(args.set)))
    except USAGE_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AccountingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def output_job(parser: argparse.ArgumentParser, work: Callable[[argparse.Namespace], str], argv: list[str] | None) -> int:
    """A job that reads a finished run's output (`--root`): print what `work` wrote."""
    args = parser.parse_args(argv)
    try:
        print(work(args))
    except USAGE_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
