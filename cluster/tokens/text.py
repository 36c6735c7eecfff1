"""Text tokens of a sample: what the trainer's tokenizer and chat template add around the
media (system prompt, role markers, instruction, answer). With them, a sample's total is
the length of the `input_ids` the trainer builds, and a `cutoff_len` at least that long
never cuts through a run of pad tokens.

The conversation is rendered as Qwen2-VL's processor does it: each `<video>`/`<image>`
placeholder becomes one vision start/pad/end group in the chat template, the processor
later widens the pad to the stored count. Everything but those vision tokens is text.
"""

from __future__ import annotations

import functools
import re

from cluster.usage import UsageError

VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
PLACEHOLDER = re.compile(r"(<video>|<image>)")


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


def check_tokenizer(source: str | None) -> None:
    """Load the configured tokenizer once on the driver, so a bad one stops the run before
    any work."""
    if source:
        load_tokenizer(source)


def text_tokens(tokenizer, messages: list[dict]) -> int:
    """Tokens of the templated conversation that are not vision tokens."""
    rendered = tokenizer.apply_chat_template(template_messages(messages), tokenize=False)
    vision = {tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS}
    return sum(1 for i in tokenizer(rendered, add_special_tokens=False)["input_ids"] if i not in vision)


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
