"""Write the curated samples in a trainer's own format:
`python -m jobs.export --root OUTPUT_ROOT --format llamafactory|qwen-vl-finetune|ms-swift [--out DIR]`.

Reads `dataset/` under the job's output root; touches no video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from schemas.exports import CONSUMER, ExportError, export


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.export", description=__doc__)
    parser.add_argument("--root", required=True, help="the job's output.root")
    parser.add_argument("--format", required=True, choices=sorted(CONSUMER))
    parser.add_argument("--out", help="where to write (default: <root>/exports/<format>)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not (root / "dataset").is_dir():
        print(f"error: {root / 'dataset'} does not exist; run the job first (vidcurate run)", file=sys.stderr)
        return 2
    try:
        path = export(root, args.format, Path(args.out) if args.out else root / "exports" / args.format)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.format} data written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
