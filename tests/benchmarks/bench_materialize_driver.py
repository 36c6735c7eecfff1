"""Pass 3's driver memory at scale: what the driver holds before the pipeline starts.

vidcurate's materialize pass reads only the accounting columns of candidates/ and the
decisions of selection/ on the driver (workers read each chunk's full rows later). The peer
is the straightforward way, which this pass used before: every candidate row, embedding
included, as Python dicts. Each side runs in a fresh child process on the same synthetic
candidates and selection (bench_select_1m.py writes them; run it first), and reports its
peak RSS (VmHWM).

    .venv/bin/python tests/benchmarks/bench_materialize_driver.py [--shards 4] [--skip-peer] [--out bench_output/select]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
import pyarrow.compute as pc, pyarrow.dataset as pads
from cluster.pipeline.materialize_pass import ACCOUNTING_COLUMNS
from schemas.tables import CANDIDATES, SELECTION
candidates = pads.dataset({candidates!r}, schema=CANDIDATES, format="parquet")
selection = pads.dataset({selection!r}, schema=SELECTION, format="parquet")
start = time.perf_counter()
if {mode!r} == "vidcurate":
    rows = candidates.to_table(columns=ACCOUNTING_COLUMNS).to_pylist()
    decisions = selection.to_table(columns=["segment_id", "drop_reason", "cluster_id", "duplicate_group"],
                                   filter=pc.is_valid(pc.field("segment_id"))).to_pylist()
else:
    rows = candidates.to_table().to_pylist()
    decisions = selection.to_table().to_pylist()
seconds = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(f"{{len(rows)}} {{seconds:.1f}} {{peak:.0f}}")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench_output/select")
    parser.add_argument("--shards", type=int, default=4, help="50,000-row candidate shards to read")
    parser.add_argument("--skip-peer", action="store_true", help="vidcurate only (the peer needs ~30 GB at 1M rows)")
    args = parser.parse_args()
    run = Path(args.out) / "run"
    shards = sorted((run / "candidates").glob("part-*.parquet"))[: args.shards]
    if not shards or not (run / "selection").is_dir():
        sys.exit("run tests/benchmarks/bench_select_1m.py first: it writes the candidates and selection read here")
    # the same shards of both tables, as lists of files
    candidates = [str(p) for p in shards]
    selection = [str(p) for p in sorted((run / "selection").glob("part-*.parquet"))]
    for mode in ("vidcurate",) if args.skip_peer else ("vidcurate", "every row as dicts (peer)"):
        code = CHILD.format(repo=str(REPO), candidates=candidates, selection=selection, mode=mode)
        rows, seconds, peak = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        print(f"{mode:28s} {int(rows):>9,} candidate rows  {seconds:>6}s  peak RSS {int(peak):>6,} MB")


if __name__ == "__main__":
    main()
