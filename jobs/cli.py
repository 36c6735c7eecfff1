"""The `vidcurate` command."""

from __future__ import annotations

import argparse
import sys

from jobs import curate, demo, export, materialize, report, segment, select


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="vidcurate", description="Curate video LLM training data on Ray.")
    commands = {
        "run": curate.main,
        "segment": segment.main,
        "select": select.main,
        "materialize": materialize.main,
        "report": report.main,
        "export": export.main,
        "demo": demo.main,
    }
    parser.add_argument(
        "command",
        choices=commands,
        help="run: the full pipeline; segment, select, materialize: one pass of it (select re-applies "
        "thresholds to candidates/ only); report: the run's HTML report; export: the dataset in a "
        "trainer's format; demo: sample videos end to end",
    )
    args, rest = parser.parse_known_args(argv)
    return commands[args.command](rest)


if __name__ == "__main__":
    sys.exit(main())
