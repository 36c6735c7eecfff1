"""The `vidcurate` command. Each subcommand's module is imported only when it runs, so
`vidcurate --help` does not load torch, Ray or the models."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "run": "jobs.curate",
    "segment": "jobs.segment",
    "select": "jobs.select",
    "materialize": "jobs.materialize",
    "report": "jobs.report",
    "export": "jobs.export",
    "unlock": "jobs.unlock",
    "demo": "jobs.demo",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="vidcurate", description="Curate video LLM training data on Ray.")
    parser.add_argument(
        "command",
        choices=COMMANDS,
        help="run: the full pipeline; segment, select, materialize: one pass of it (select re-applies "
        "thresholds to candidates/ only); report: the run's HTML report; export: the dataset in a "
        "trainer's format; unlock: break a gone run's lease on a root; demo: sample videos end to end",
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the command's own (vidcurate COMMAND --help)")
    args = parser.parse_args(argv)
    return importlib.import_module(COMMANDS[args.command]).main(args.arguments)


if __name__ == "__main__":
    sys.exit(main())
