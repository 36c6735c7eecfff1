"""Run the whole pipeline: `python -m jobs.curate --config CONFIG [--set key=value ...]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import yaml

from cluster.accounting import AccountingError, check
from cluster.caption.backends import CaptionUnavailable
from cluster.pipeline.materialize_pass import prepare_captioning, run_materialize_pass, write_json
from cluster.pipeline.segment_pass import ScoringUnavailable, prepare_scoring, run_segment_pass
from cluster.pipeline.select_pass import run_select_pass
from cluster.progress import record_step, step_digest, step_is_current
from jobs.config import Config, ConfigError, load_config
from jobs.manifest import ManifestError, read_manifest
from jobs.ray_session import connect

log = logging.getLogger("vidcurate")


def run(cfg: Config) -> dict:
    """All three passes; returns summary.json's content. Raises AccountingError when some
    input is not accounted for."""
    manifest = read_manifest(cfg.input.manifest)
    scoring = prepare_scoring(cfg.scoring)
    out_root = Path(cfg.output.root)
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    connect(cfg.ray.address, cfg.ray.num_cpus)
    captioning = prepare_captioning(cfg, scoring.clip)
    log.info("%d inputs from %s", len(manifest), cfg.input.manifest)
    timings = {}
    start = time.perf_counter()
    segment_chunks = run_segment_pass(cfg, manifest, out_root, scoring)
    timings["segment"] = time.perf_counter() - start
    select_digest = step_digest(out_root, "segment", cfg.model_dump(include={"filters", "dedup"}))
    if step_is_current(out_root, "select", select_digest):
        log.info("select pass: candidates and thresholds unchanged since the last run; selection/ kept")
    else:
        run_select_pass(cfg, out_root)
        record_step(out_root, "select", select_digest)
    timings["select"] = time.perf_counter() - start - timings["segment"]
    summary = run_materialize_pass(cfg, manifest, out_root, captioning)
    timings["materialize"] = time.perf_counter() - start - timings["segment"] - timings["select"]
    summary["chunks"] = {"segment": segment_chunks, "materialize": summary["chunks"]}
    summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    write_json(out_root / "summary.json", summary)
    check(summary)
    return summary


def parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. --set split.max_seconds=10")
        overrides[key] = yaml.safe_load(value)
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.curate", description=__doc__)
    parser.add_argument("--config", required=True, help="YAML config (see jobs/configs/example.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config, parse_overrides(args.set))
        summary = run(cfg)
    except (ConfigError, ManifestError, ScoringUnavailable, CaptionUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AccountingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(summary, indent=2))
    print(f"dataset written to {Path(cfg.output.root) / 'dataset'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
