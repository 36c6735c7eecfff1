"""Caption quality: scores stored with every caption, and the gates that filter on them."""

from __future__ import annotations

import re

from cluster.caption.settings import GateSettings

NGRAM = 4
# Fewer words than this and the text is scored on characters (degenerate output often has
# no spaces at all: "ababababab...").
MIN_WORDS = 2 * NGRAM


def repetition(text: str) -> float:
    """Share of the text's 4-grams that repeat an earlier one: 0 for varied prose, near 1
    for a model stuck in a loop."""
    units: list[str] = text.split()
    if len(units) < MIN_WORDS:
        units = list(text.replace(" ", ""))
    grams = [tuple(units[i : i + NGRAM]) for i in range(len(units) - NGRAM + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def parse_qa(text: str) -> list[dict]:
    """`Q: ... / A: ...` pairs from the captioner's answer; unpaired lines are ignored."""
    pairs, question = [], None
    for line in text.splitlines():
        match = re.match(r"\s*(?:\d+[.)]\s*)?(Q|A)\s*[:：]\s*(.+)", line, flags=re.IGNORECASE)  # noqa: RUF001 - a fullwidth colon, as models answering in Chinese write it
        if not match:
            continue
        tag, body = match.group(1).upper(), match.group(2).strip()
        if tag == "Q":
            question = body
        elif question:
            pairs.append({"question": question, "answer": body})
            question = None
    return pairs


def caption_scores(short: str, detailed: str, truncated: bool, clip_similarity: float | None) -> dict:
    return {
        "short_chars": len(short),
        "detailed_chars": len(detailed),
        "truncated": truncated,
        "repetition": round(max(repetition(short), repetition(detailed)), 4),
        "clip_similarity": clip_similarity,
    }


def gate(scores: dict, gates: GateSettings) -> str | None:
    """The first gate the caption fails, as a filter reason, or None."""
    if gates.min_chars and min(scores["short_chars"], scores["detailed_chars"]) < gates.min_chars:
        return "caption_empty"
    if gates.reject_truncated and scores["truncated"]:
        return "caption_truncated"
    if gates.max_repetition is not None and scores["repetition"] > gates.max_repetition:
        return "caption_repetitive"
    similarity = scores["clip_similarity"]
    if gates.min_clip_similarity is not None and similarity is not None and similarity < gates.min_clip_similarity:
        return "caption_low_clip_similarity"
    return None
