"""Re-apply thresholds without touching a video:
`python -m jobs.select --config CONFIG [--set filters.min_aesthetic=5]`.

Reads `candidates/` under output.root and rewrites `selection/` only."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from cluster.pipeline.select_pass import run_select_pass
from jobs.config import ConfigError, load_config
from jobs.curate import parse_overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.select", description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config, parse_overrides(args.set))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_root = Path(cfg.output.root)
    if not (out_root / "candidates").is_dir():
        print(f"error: {out_root / 'candidates'} does not exist; run the segment pass first (vidcurate run)", file=sys.stderr)
        return 2
    print(json.dumps(dict(run_select_pass(cfg, out_root)), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
