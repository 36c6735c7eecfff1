"""The offline settings every end-to-end test runs with (random-weight CLIP: no network, no
thresholds on its meaningless scores, dedup of near-identical segments only), and a whole
job on local videos under them, as the token tests run it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

OFFLINE = {
    "scoring": {"preset": "random", "keyframes": 2},
    "filters": {"min_aesthetic": None, "min_clip_similarity": None},
    "dedup": {"eps": 0.001},
}
# the same with the static-segment filter off too, for tests that count every segment
OFFLINE_ALL_SEGMENTS = {**OFFLINE, "filters": {**OFFLINE["filters"], "max_redundancy": None}}


def run_offline(videos: Sequence[Path], out: Path, output: dict | None = None, **sections: dict) -> dict:
    """Run all three passes on `videos` into `out`; `sections` are further config sections."""
    from jobs.config import parse_config
    from jobs.curate import run

    manifest = out.with_name(f"{out.name}-manifest.jsonl")
    manifest.write_text("".join(json.dumps({"uri": str(v)}) + "\n" for v in videos))
    config = {
        "input": {"manifest": str(manifest)},
        "output": {"root": str(out), **(output or {})},
        **OFFLINE,
        **sections,
    }
    return run(parse_config(config))
