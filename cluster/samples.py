"""Sharegpt conversations in the layout LLaMA-Factory reads (and the other trainers convert).

LLaMA-Factory requires: an optional system turn, then user and assistant turns
alternating, starting with the user and ending with the assistant, and exactly as many
`<video>` / `<image>` placeholders as the sample has videos / images.
"""

from __future__ import annotations

import hashlib

# The manifest text that best stands in for a caption when no captioner runs.
CAPTION_SOURCES = ("description", "transcript", "title")

DEFAULT_INSTRUCTIONS = (
    "Describe this video in detail.",
    "What happens in this video?",
    "Give a detailed description of the video.",
    "Explain what is shown in this clip.",
    "Describe the scene, the subjects and the actions in this video.",
    "Provide a thorough description of this video.",
)
DEFAULT_IMAGE_INSTRUCTIONS = (
    "Describe this image.",
    "What is shown in this picture?",
    "Give a short description of this image.",
)
PLACEHOLDERS = {"video": "<video>", "image": "<image>"}


class ConversationError(ValueError):
    """A conversation a trainer would reject."""


def manifest_caption(row: dict) -> str | None:
    for name in CAPTION_SOURCES:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def pick_instruction(pool: list[str], seed: int, sample_id: str) -> str:
    """The pool entry for this sample: a hash of seed and id, so any run order gives the same."""
    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    return pool[int.from_bytes(digest[:8], "big") % len(pool)]


def build_messages(
    placeholders: list[str],
    instruction: str,
    answer: str,
    system: str | None,
    qa: list[dict] | None = None,
) -> list[dict]:
    """System (optional), user with one placeholder per media item and the instruction, the
    assistant's answer, then each question-answer pair as a further user/assistant turn."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": "".join(placeholders) + instruction})
    messages.append({"role": "assistant", "content": answer})
    for pair in qa or []:
        messages.append({"role": "user", "content": pair["question"]})
        messages.append({"role": "assistant", "content": pair["answer"]})
    return messages


def check_conversation(messages: list[dict], videos: int, images: int) -> None:
    """Raise ConversationError unless LLaMA-Factory would accept the turns and placeholders."""
    turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
    roles = [m["role"] for m in turns]
    expected = ["user", "assistant"] * (len(roles) // 2)
    if not roles or roles != expected:
        raise ConversationError(f"roles must alternate user/assistant after an optional system turn; got {roles}")
    for kind, count in (("video", videos), ("image", images)):
        found = sum(m["content"].count(PLACEHOLDERS[kind]) for m in messages)
        if found != count:
            raise ConversationError(f"{found} {PLACEHOLDERS[kind]} placeholders for {count} {kind}s")
