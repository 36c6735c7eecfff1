"""The HTML report of a finished run: `python -m jobs.report --root OUTPUT_ROOT`.

Writes `report/index.html` with its PNG plots under the output root (a run writes it too);
reads only the run's output tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cluster.report.dataset_report import write_report
from jobs.entry import output_job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.report", description=__doc__)
    parser.add_argument("--root", required=True, help="the job's output.root")
    return output_job(parser, lambda args: f"report written to {write_report(Path(args.root))}", argv)


if __name__ == "__main__":
    sys.exit(main())
