"""Text counting with a tokenizer configured (issue 13's target: 100,000 samples in under
60 s on one core): the compose stage's `text_tokens` on 100,000 sharegpt conversations with
the real Qwen3 tokenizer and Qwen3-VL timestamps (a 10 s clip: 10 temporal steps), the
chat template rendered and tokenized per sample as in pass 3. Pin it to one core:

    taskset -c 0 .venv/bin/python tests/benchmarks/bench_text_tokens.py [--samples 100000]

Without a tokenizer nothing is tokenized: timestamps are counted by rule (arithmetic).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from qwen3_tokenizer import qwen3_tokenizer_dir  # noqa: E402

from cluster.samples import build_messages  # noqa: E402
from cluster.tokens.text import load_tokenizer, text_tokens  # noqa: E402
from cluster.tokens.timestamps import step_timestamps, timestamp_tokens  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100_000)
    n = parser.parse_args().samples
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load_tokenizer(str(qwen3_tokenizer_dir(Path(tmp))))
        conversations = [
            build_messages(
                ["<video>"], "Describe this video in detail.", f"Shot {i}: a person crosses the street. " * 6, None
            )
            for i in range(n)
        ]
        times = [step_timestamps(range(300 + i % 50, 600, 15), 29.97) for i in range(n)]
        start = time.perf_counter()
        total = sum(text_tokens(tokenizer, m, [t]) for m, t in zip(conversations, times, strict=True))
        counted = time.perf_counter() - start
        start = time.perf_counter()
        rule = sum(timestamp_tokens(t) for t in times)
        by_rule = time.perf_counter() - start
    print(f"{n} samples, tokenizer: {counted:.1f} s ({counted / n * 1e6:.0f} us/sample), {total} tokens")
    print(f"timestamps by rule alone: {by_rule:.2f} s, {rule} tokens")


if __name__ == "__main__":
    main()
