"""Text tokens of a sample: what the trainer's tokenizer and chat template add around the
media (system prompt, role markers, instruction, answer). With them, a sample's total is
the length of the `input_ids` the trainer builds, and a `cutoff_len` at least that long
never cuts through a run of pad tokens.

The conversation is rendered as the Qwen-VL processors do it: each `<video>`/`<image>`
placeholder becomes one vision start/pad/end group in the chat template, the processor
later widens the pad to the stored count; Qwen3-VL's processor replaces a video's pad with
a timestamp text and a start/pad/end group per temporal step. Everything but the vision
tokens is text, the timestamps included.

LLaMA-Factory renders with its own template instead of the tokenizer's chat template:
ChatML with the template's default system prompt (`LLAMAFACTORY_TEMPLATES`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path

from cluster.tokens.model import MODEL_TYPES
from cluster.tokens.timestamps import timestamp_text
from cluster.usage import UsageError

VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
VIDEO_STEP = "<|vision_start|><|video_pad|><|vision_end|>"
PLACEHOLDER = re.compile(r"(<video>|<image>)")
# Qwen3 tokenizers (Qwen3-VL, Qwen3.5) carry the thinking tokens; Qwen2/2.5 ones do not
QWEN3_MARKER = "<think>"
GENERATION = {"qwen2-vl": "Qwen2", "qwen2.5-vl": "Qwen2", "qwen3-vl": "Qwen3"}
GROUPS = {"<image>": "<|vision_start|><|image_pad|><|vision_end|>", "<video>": VIDEO_STEP}
# family -> (LLaMA-Factory template, its default system prompt); for Qwen3-VL the template
# without thinking, which adds no empty <think> block to each answer
LLAMAFACTORY_TEMPLATES = {
    "qwen2-vl": ("qwen2_vl", "You are a helpful assistant."),
    "qwen2.5-vl": ("qwen2_vl", "You are a helpful assistant."),
    "qwen3-vl": ("qwen3_vl_nothink", None),
}


class TokenizerUnavailable(UsageError):
    """tokens.tokenizer cannot count text for this run."""


@functools.lru_cache(maxsize=2)
def load_tokenizer(source: str):
    """The tokenizer at `source` (a local folder or a Hugging Face model id), checked to
    carry a chat template and the Qwen vision tokens. Cached per process."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as exc:  # transformers raises OSError, ValueError, HTTP errors...
        raise TokenizerUnavailable(
            f"tokens.tokenizer {source!r} cannot be loaded ({type(exc).__name__}: {exc}); give a folder holding "
            "the trainer's tokenizer files or a Hugging Face model id, or leave tokens.tokenizer unset"
        ) from exc
    if not tokenizer.chat_template:
        raise TokenizerUnavailable(
            f"tokens.tokenizer {source!r} has no chat template; use the model's own tokenizer folder"
        )
    unknown = [t for t in VISION_TOKENS if tokenizer.convert_tokens_to_ids(t) in (None, tokenizer.unk_token_id)]
    if unknown:
        raise TokenizerUnavailable(
            f"tokens.tokenizer {source!r} lacks the Qwen-VL vision tokens {unknown}; use a Qwen2-VL family tokenizer"
        )
    return tokenizer


def check_tokenizer(source: str | None, family: str) -> None:
    """Load the configured tokenizer once on the driver, so a bad one, or one of another
    family than tokens.family, stops the run before any work."""
    if not source:
        return
    found = tokenizer_generation(source, load_tokenizer(source))
    if found != GENERATION[family]:
        raise TokenizerUnavailable(
            f"tokens.tokenizer {source!r} is a {found} tokenizer but tokens.family {family!r} is a "
            f"{GENERATION[family]} model; give the tokenizer of the model you train, or set tokens.family to match it"
        )


def tokenizer_generation(source: str, tokenizer) -> str:
    """Qwen2 (Qwen2-VL, Qwen2.5-VL) or Qwen3 (Qwen3-VL, Qwen3.5): the model type in the
    folder's config.json when it is a known one, else Qwen3's thinking tokens in the vocabulary."""
    config = Path(source) / "config.json"
    model_type = json.loads(config.read_text()).get("model_type", "") if config.is_file() else ""
    if model_type in MODEL_TYPES:
        return GENERATION[MODEL_TYPES[model_type]]
    return "Qwen3" if QWEN3_MARKER in tokenizer.get_vocab() else "Qwen2"


def text_tokens(
    tokenizer, messages: list[dict], timestamps: Sequence[Sequence[float]] = (), llamafactory_family: str | None = None
) -> int:
    """Tokens of the templated conversation that are not vision tokens; `timestamps` holds,
    per video in order, the Qwen3-VL step times the processor writes in. With
    `llamafactory_family`, the conversation is rendered by that family's LLaMA-Factory template."""
    if llamafactory_family:
        rendered = llamafactory_render(messages, LLAMAFACTORY_TEMPLATES[llamafactory_family][1])
    else:
        rendered = tokenizer.apply_chat_template(template_messages(messages), tokenize=False)
    rendered = expand_videos(rendered, timestamps)
    vision = {tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS}
    return sum(1 for i in tokenizer(rendered, add_special_tokens=False)["input_ids"] if i not in vision)


def expand_videos(rendered: str, timestamps: Sequence[Sequence[float]]) -> str:
    """Replace each video's pad as Qwen3VLProcessor does: per step, its time and a vision
    group (one pad stands for the step's run; pads are not text). Videos without times stay."""
    if not any(timestamps):
        return rendered
    parts = rendered.split("<|video_pad|>")
    if len(parts) - 1 != len(timestamps):
        raise ValueError(f"{len(parts) - 1} video pads in the rendered conversation for {len(timestamps)} videos")
    out = [parts[0]]
    for times, rest in zip(timestamps, parts[1:], strict=True):
        out.append("".join(timestamp_text(t) + VIDEO_STEP for t in times) if times else "<|video_pad|>")
        out.append(rest)
    return "".join(out)


def llamafactory_render(messages: list[dict], default_system: str | None) -> str:
    """LLaMA-Factory's Qwen templates: a leading system turn (or the template's default),
    then each turn as `<|im_start|>role\ncontent<|im_end|>\n`, the media as vision groups."""
    turns = list(messages)
    system = turns.pop(0)["content"] if turns and turns[0]["role"] == "system" else default_system
    head = [{"role": "system", "content": system}] if system else []
    return "".join(
        f"<|im_start|>{m['role']}\n{PLACEHOLDER.sub(lambda p: GROUPS[p.group()], m['content'])}<|im_end|>\n"
        for m in head + turns
    )


def template_messages(messages: list[dict]) -> list[dict]:
    """Sharegpt turns (`<video>`/`<image>` placeholders in the text) to chat-template
    content parts, the media in place."""
    out = []
    for m in messages:
        parts = [p for p in PLACEHOLDER.split(m["content"]) if p]
        out.append(
            {
                "role": m["role"],
                "content": [
                    {"type": p[1:-1]} if PLACEHOLDER.fullmatch(p) else {"type": "text", "text": p} for p in parts
                ],
            }
        )
    return out
