"""Write the curated samples in a trainer's own format:
`python -m jobs.export --root OUTPUT_ROOT --format llamafactory|qwen-vl-finetune|ms-swift [--out DIR]`.

Reads `dataset/` under the job's output root (a folder or an object-store URI); touches no
video. With `--out DIR` and a remote root, the media are copied down under DIR (resumable:
a rerun copies only what is missing) and the export points at those local files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobs.entry import output_job, require, root_arguments, root_store
from schemas.exports import CONSUMER, export


def write(args: argparse.Namespace) -> str:
    store = root_store(args)
    require(store, ("materialize",), "the job (vidcurate run)")
    path = export(store, args.format, Path(args.out) if args.out else None)
    return f"{args.format} data written to {path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.export", description=__doc__)
    root_arguments(parser)
    parser.add_argument("--format", required=True, choices=sorted(CONSUMER))
    parser.add_argument(
        "--out", help="a local folder to write to, media included for a remote root (default: <root>/exports/<format>)"
    )
    return output_job(parser, write, argv)


if __name__ == "__main__":
    sys.exit(main())
