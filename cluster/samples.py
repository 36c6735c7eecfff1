"""Sharegpt conversations in the layout LLaMA-Factory reads (and the other trainers convert)."""

from __future__ import annotations

# The manifest text that best stands in for a caption until recaptioning fills it.
CAPTION_SOURCES = ("description", "transcript", "title")


def manifest_caption(row: dict) -> str | None:
    for name in CAPTION_SOURCES:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def build_messages(placeholders: list[str], prompt: str, answer: str, system: str | None) -> list[dict]:
    """System (optional), user with one placeholder per media item, then the assistant."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": "".join(placeholders) + prompt})
    messages.append({"role": "assistant", "content": answer})
    return messages

