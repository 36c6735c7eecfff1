"""The HTML report of a finished run: `python -m jobs.report --root OUTPUT_ROOT` (a folder or
an object-store URI).

Writes `report/index.html` with its PNG plots under the output root (a run writes it too);
reads only the run's output tables."""

from __future__ import annotations

import argparse
import sys

from cluster.report.dataset_report import write_report
from jobs.entry import output_job, root_arguments, root_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.report", description=__doc__)
    root_arguments(parser)
    return output_job(parser, lambda args: f"report written to {write_report(root_store(args))}", argv)


if __name__ == "__main__":
    sys.exit(main())
