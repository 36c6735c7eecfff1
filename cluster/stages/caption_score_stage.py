"""Pass-3 stage: CLIP similarity between each new caption and its segment's keyframes.

Uses the cleaning pass's CLIP model: the caption's text embedding against the pooled
keyframe embedding stored in candidates/, so no frame is decoded again.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from cluster.models import clip
from cluster.scores import normalize
from cluster.stages.errors import error_fields
from schemas.tables import PASS3_WORK, table_from_rows


class ScoreCaptions:
    """Stage of the captioner's actor (`Chained` in pass 3): a pyarrow batch in, the same rows out."""

    def __init__(self, spec: clip.ClipSpec, answer: str):
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model, self.tokenizer = clip.load_text(spec, self.device)
        self.answer = answer  # which caption answers the instruction: detailed | short

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        scorable = [r for r in rows if r["status"] == "ok" and r["caption_quality"] and r["embedding"]]
        if scorable:
            try:
                self._score(scorable)
            except torch.OutOfMemoryError as exc:  # the batch does not fit: its rows are marked, the job goes on
                for r in scorable:
                    r.update(error_fields("caption_score", r["input"], exc))
        return table_from_rows(rows, PASS3_WORK)

    def _score(self, rows: list[dict]) -> None:
        texts = [r["caption_short" if self.answer == "short" else "caption_detailed"] or " " for r in rows]
        with torch.no_grad():
            encoded = self.model.encode_text(self.tokenizer(texts).to(self.device)).float().cpu().numpy()
        images = normalize(np.asarray([r["embedding"] for r in rows], dtype=np.float32))
        for row, similarity in zip(rows, (normalize(encoded) * images).sum(axis=1), strict=True):
            row["caption_quality"] = {**row["caption_quality"], "clip_similarity": round(float(similarity), 6)}
