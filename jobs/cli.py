"""The `vidcurate` command."""

from __future__ import annotations

import argparse
import sys

from jobs import curate, demo


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="vidcurate", description="Curate video LLM training data on Ray.")
    parser.add_argument("command", choices=["run", "demo"], help="run: the full pipeline; demo: sample videos end to end")
    args, rest = parser.parse_known_args(argv)
    return curate.main(rest) if args.command == "run" else demo.main(rest)


if __name__ == "__main__":
    sys.exit(main())
