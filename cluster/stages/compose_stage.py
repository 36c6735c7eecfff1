"""Pass-3 stage: a materialized (and possibly captioned) segment in, its sharegpt samples out.

Applies the caption quality gates, draws the instruction from the pool, builds and checks
the conversation, and totals the placeholder tokens of the media the sample carries, plus
its text tokens when the trainer's tokenizer is configured (which cover Qwen3-VL's timestamps;
without a tokenizer those are added by Qwen's tokenizer rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from cluster import ids, metrics
from cluster.caption.quality import gate
from cluster.caption.settings import GateSettings
from cluster.samples import build_messages, check_conversation, pick_instruction
from cluster.tokens.text import load_tokenizer, text_tokens
from schemas.tables import PASS3_WORK, table_from_rows

CAPTIONED = ("captioned", "random_weights")


@dataclass(frozen=True)
class ComposeSettings:
    instructions: tuple[str, ...]
    image_instructions: tuple[str, ...]
    seed: int
    system: str | None
    answer: str  # detailed | short
    include_qa: bool
    include_image: bool
    image_samples: bool
    gates: GateSettings
    tokenizer: str | None = None  # count text tokens with it
    max_total_tokens: int | None = None
    llamafactory_family: str | None = None  # count the text as LLaMA-Factory's template renders it


class ComposeSamples:
    """Callable for `map_batches(..., batch_format="pyarrow")`: one row in, one or two
    samples out (video, and the best keyframe alone when image samples are on)."""

    def __init__(self, settings: ComposeSettings):
        self.settings = settings

    def __call__(self, batch: pa.Table) -> pa.Table:
        out: list[dict] = []
        for row in batch.to_pylist():
            samples = self.compose(row)
            # the media bytes stop here: the driver needs only the samples
            out.extend({**sample, "segment_rows": len(samples), "media_bytes": None} for sample in samples)
        return table_from_rows(out, PASS3_WORK)

    def compose(self, row: dict) -> list[dict]:
        if row["status"] != "ok":
            return [row]
        if row["caption_status"] in CAPTIONED:
            reason = gate(row["caption_quality"], self.settings.gates)
            if reason:
                return [{**row, "status": "filtered", "reason": reason}]
        samples = [self._video_sample(row)]
        if self.settings.image_samples and row["images"]:
            samples.append(self._image_sample(row))
        budget = self.settings.max_total_tokens
        if budget is not None and samples[0]["total_tokens"] > budget:  # the media fit; with the text they do not
            first = samples[0]
            message = (
                f"{first['total_tokens']} tokens with the text ({first['text_tokens']}), over max_total_tokens={budget}"
            )
            return [{**row, "status": "filtered", "reason": "over_token_budget", "error_message": message}]
        return samples

    def _video_sample(self, row: dict) -> dict:
        s = self.settings
        items = row["media"] if s.include_image else [m for m in row["media"] if m["kind"] == "video"]
        images = row["images"] if s.include_image else []
        answer = (
            (row["caption_short"] if s.answer == "short" else row["caption_detailed"]) or row["manifest_text"] or ""
        )
        instruction = pick_instruction(list(s.instructions), s.seed, row["id"])
        qa = row["qa"] if s.include_qa else None
        return self._finish(
            {**row, "images": images}, items, build_messages(_placeholders(items), instruction, answer, s.system, qa)
        )

    def _image_sample(self, row: dict) -> dict:
        s = self.settings
        sample = ids.sample_id(row["segment_id"], "image", row["token_profile"])
        items = [m for m in row["media"] if m["kind"] == "image"]
        answer = row["caption_short"] or row["manifest_text"] or ""
        instruction = pick_instruction(list(s.image_instructions), s.seed, sample)
        messages = build_messages(_placeholders(items), instruction, answer, s.system)
        return self._finish(
            {**row, "id": sample, "sample_kind": "image", "videos": [], "video_clips": []}, items, messages
        )

    def _finish(self, row: dict, items: list[dict], messages: list[dict]) -> dict:
        # a video is its frame files, or its mp4 when only clips are written
        check_conversation(messages, videos=max(len(row["videos"]), len(row["video_clips"])), images=len(row["images"]))
        visual = sum(m["sequence_tokens"] for m in items)
        videos = [m for m in items if m["kind"] == "video"]
        stamps = sum(m["timestamp_tokens"] for m in videos)
        text = None
        if self.settings.tokenizer:
            times = [m["timestamps"] or () for m in videos]
            tokenizer = load_tokenizer(self.settings.tokenizer)
            text = text_tokens(tokenizer, messages, times, self.settings.llamafactory_family)
        for kind in ("video", "image"):
            metrics.count(
                "vidcurate_tokens_emitted", sum(m["pad_tokens"] for m in items if m["kind"] == kind), kind=kind
            )
        return {
            **row,
            "media": items,
            "messages": messages,
            "image_pad_tokens": sum(m["pad_tokens"] for m in items if m["kind"] == "image"),
            "video_pad_tokens": sum(m["pad_tokens"] for m in items if m["kind"] == "video"),
            "visual_tokens": visual,
            "timestamp_tokens": stamps,
            "text_tokens": text,
            "total_tokens": visual + (stamps if text is None else text),
        }


def _placeholders(items: list[dict]) -> list[str]:
    return [m["placeholder"] for m in items]
