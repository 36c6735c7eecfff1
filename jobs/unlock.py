"""Break a run's lease on an output root by hand: `python -m jobs.unlock --root OUTPUT_ROOT`.

For a root whose run is gone but whose lease has not expired yet (a run killed on another
machine: on the same machine a rerun takes over a dead run's lease by itself). Breaking the
lease of a run that is still going makes it stop before its next commit."""

from __future__ import annotations

import argparse
import sys

from cluster.lease import unlock
from jobs.entry import output_job, root_arguments, root_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.unlock", description=__doc__)
    root_arguments(parser)
    return output_job(parser, lambda args: unlock(root_store(args)), argv)


if __name__ == "__main__":
    sys.exit(main())
