"""Write the curated samples in a trainer's own format:
`python -m jobs.export --root OUTPUT_ROOT --format llamafactory|qwen-vl-finetune|ms-swift [--out DIR]`.

Reads `dataset/` under the job's output root; touches no video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobs.entry import output_job, require
from schemas.exports import CONSUMER, export


def write(args: argparse.Namespace) -> str:
    root = Path(args.root)
    require(root, ("dataset",), "the job (vidcurate run)")
    path = export(root, args.format, Path(args.out) if args.out else root / "exports" / args.format)
    return f"{args.format} data written to {path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.export", description=__doc__)
    parser.add_argument("--root", required=True, help="the job's output.root")
    parser.add_argument("--format", required=True, choices=sorted(CONSUMER))
    parser.add_argument("--out", help="where to write (default: <root>/exports/<format>)")
    return output_job(parser, write, argv)


if __name__ == "__main__":
    sys.exit(main())
