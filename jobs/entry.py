"""What the jobs share: `--config` and `--set key=value` parsing, logging, the order of
passes, and exit codes (2: a UsageError, fix the input, config or order of passes; 3:
accounting failed). The run itself (checks before work, pass 3 and summary.json) is
cluster/pipeline/run.py. Only light modules are imported here, so that a command starts in
well under a second and loads torch or Ray only when its work needs them."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable

import yaml

from cluster.accounting import AccountingError
from cluster.lease import LeaseLost
from cluster.progress import has_run
from cluster.store import Store
from cluster.usage import UsageError
from jobs.config import Config, ConfigError, load_config


class PassOrderError(UsageError):
    """A pass was started before the one it reads from has run."""


def parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. --set split.max_seconds=10")
        overrides[key] = yaml.safe_load(value)
    return overrides


def require(store: Store, passes: tuple[str, ...], producer: str) -> None:
    """Refuse to start before the passes this one reads from have finished in this root."""
    for name in passes:
        if not has_run(store, name):
            raise PassOrderError(f"the {name} pass has not finished in {store.uri()}; run {producer} first")


def config_job(prog: str, description: str, work: Callable[[Config], dict], argv: list[str] | None) -> int:
    """Parse the command line, run `work` on the validated config, and print its result."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", required=True, help="YAML config (see jobs/configs/example.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace output the root holds from a run under other settings (output.replace: true)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        overrides = parse_overrides(args.set)
        if args.replace:
            overrides["output.replace"] = True
        result = work(load_config(args.config, overrides))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AccountingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except LeaseLost as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def root_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", required=True, help="the job's output.root: a folder or an object-store URI (s3://bucket/prefix)"
    )
    parser.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an output.storage_options entry for a remote root, e.g. endpoint_url=http://minio:9000",
    )


def root_store(args: argparse.Namespace) -> Store:
    return Store(args.root, parse_overrides(args.storage_option))


def output_job(
    parser: argparse.ArgumentParser, work: Callable[[argparse.Namespace], str], argv: list[str] | None
) -> int:
    """A job that reads a finished run's output (`--root`): print what `work` wrote."""
    args = parser.parse_args(argv)
    try:
        print(work(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
