"""The `vidcurate` command."""

from __future__ import annotations

import argparse
import sys

from jobs import curate, demo, export, select


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="vidcurate", description="Curate video LLM training data on Ray.")
    commands = {"run": curate.main, "select": select.main, "export": export.main, "demo": demo.main}
    parser.add_argument(
        "command",
        choices=commands,
        help="run: the full pipeline; select: re-apply thresholds to candidates/ only; "
        "export: the dataset in a trainer's format; demo: sample videos end to end",
    )
    args, rest = parser.parse_known_args(argv)
    return commands[args.command](rest)


if __name__ == "__main__":
    sys.exit(main())
