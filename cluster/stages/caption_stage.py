"""Pass-3 stage: captions for materialized segments on a captioner actor pool.

The captioner gets the bytes written for the trainer (the JPEG frames, or the mp4 when only
clips are written) in the block from the materialize task, so it describes exactly what the
trainer will see and reads nothing back from storage, whichever node wrote it. A batch that runs out of GPU
memory is split in halves and retried; a single request that still does not fit, or that
the backend failed, becomes that segment's error row.
"""

from __future__ import annotations

import json
import logging

import av
import numpy as np
import pyarrow as pa

from cluster import metrics
from cluster.caption.backends import open_captioner
from cluster.caption.quality import caption_scores, parse_qa
from cluster.caption.requests import CaptionRequest, Generation
from cluster.caption.settings import CaptionConfig
from cluster.stages.errors import error_fields
from cluster.video.media import decode_clip, decode_jpegs
from schemas.tables import PASS3_WORK, table_from_rows

log = logging.getLogger(__name__)


class CaptionFailed(RuntimeError):
    """The captioner returned no usable answer for a segment."""


class CaptionSegments:
    """Stage of the captioner's actor (`Chained` in pass 3): a pyarrow batch in, the same rows out."""

    def __init__(self, cfg: CaptionConfig, device: str):
        self.cfg = cfg
        self.captioner = open_captioner(cfg, device)
        self.status = "random_weights" if cfg.backend == "tiny-random" else "captioned"
        self.settings_json = json.dumps(caption_settings(cfg, self.captioner.model_name), sort_keys=True)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        ready = [r for r in rows if r["status"] == "ok" and self._load(r)]
        if ready:
            with metrics.timed("vidcurate_caption_batch_seconds", backend=self.cfg.backend):
                self._caption(ready)
        return table_from_rows(rows, PASS3_WORK)

    def _load(self, row: dict) -> bool:
        try:
            row["_frames"] = self.read_frames(row)
            return True
        except (OSError, av.FFmpegError) as exc:  # the pass's own media, unreadable in the store
            row.update(error_fields("caption", row["input"], exc))
            return False

    @staticmethod
    def read_frames(row: dict) -> list[np.ndarray]:
        return decode_jpegs(row["media_bytes"]) if row["videos"] else decode_clip(row["media_bytes"][0])

    def _caption(self, rows: list[dict]) -> None:
        prompts = self._prompts()
        requests = [CaptionRequest(r["_frames"], text, budget) for r in rows for text, budget in prompts.values()]
        generations = generate_splitting(self.captioner, requests)
        for i, row in enumerate(rows):
            answers = dict(zip(prompts, generations[i * len(prompts) : (i + 1) * len(prompts)], strict=True))
            row.update(self._fields(row, answers))

    def _prompts(self) -> dict[str, tuple[str, int]]:
        c, g = self.cfg, self.cfg.generation
        prompts = {"short": (c.short_prompt, g.short_max_new_tokens), "detailed": (c.detailed_prompt, g.max_new_tokens)}
        if c.qa_pairs:
            prompts["qa"] = (c.qa_prompt.format(n=c.qa_pairs), g.max_new_tokens)
        return prompts

    def _fields(self, row: dict, answers: dict[str, Generation]) -> dict:
        failed = [f"{kind}: {g.error}" for kind, g in answers.items() if g.error]
        if failed:
            return error_fields("caption", row["input"], CaptionFailed("; ".join(failed)))
        short, detailed = answers["short"], answers["detailed"]
        return {
            "caption_status": self.status,
            "caption_short": short.text,
            "caption_detailed": detailed.text,
            "qa": parse_qa(answers["qa"].text)[: self.cfg.qa_pairs] if "qa" in answers else [],
            "caption_model": self.captioner.model_name,
            "caption_settings": self.settings_json,
            "caption_quality": caption_scores(short.text, detailed.text, short.truncated or detailed.truncated, None),
        }


def generate_splitting(captioner, requests: list[CaptionRequest]) -> list[Generation]:
    """Generate; on out-of-memory, halve the batch and retry each half."""
    try:
        return captioner.generate(requests)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        _release_gpu_memory()
        if len(requests) == 1:
            return [
                Generation(
                    "",
                    "error",
                    f"out of memory on a single request ({exc}); lower the token profile's max_pixels or fps",
                )
            ]
        half = len(requests) // 2
        log.warning(
            "captioner out of memory on %d requests; retrying as %d + %d", len(requests), half, len(requests) - half
        )
        return generate_splitting(captioner, requests[:half]) + generate_splitting(captioner, requests[half:])


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _release_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def caption_settings(cfg: CaptionConfig, model_name: str) -> dict:
    """What shaped the captions, stored with each one."""
    return {
        "backend": cfg.backend,
        "model": model_name,
        "prompts": {
            "short": cfg.short_prompt,
            "detailed": cfg.detailed_prompt,
            "qa": cfg.qa_prompt if cfg.qa_pairs else None,
        },
        "qa_pairs": cfg.qa_pairs,
        "generation": cfg.generation.model_dump(),
        "meaningless": cfg.backend == "tiny-random",
    }
