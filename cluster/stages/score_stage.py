"""Pass-1 stage: CLIP scoring on an actor pool (`map_batches`, ActorPoolStrategy).

One backbone pass over every keyframe of the batch gives the embeddings that the aesthetic
head, the text similarity and (in pass 2) clustering all reuse. Runs on the GPU when the
actor was given one, on CPU otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from torchvision.io import ImageReadMode
from torchvision.io import decode_jpeg as decode_jpeg_tensors

from cluster import metrics
from cluster.models import aesthetic, clip
from cluster.samples import manifest_caption
from cluster.scores import aggregate, pooled_embedding, text_similarity
from cluster.stages.errors import error_fields
from cluster.stages.keyframe_stage import decode_jpeg
from schemas.tables import CANDIDATES, table_from_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreSettings:
    clip: clip.ClipSpec
    head: aesthetic.HeadSpec
    head_path: str | None
    aggregate: str  # mean | min
    meaningful: bool  # False for randomly initialised weights
    # torch threads of an actor on CPU: its share of its node's cores, not only the CPUs it
    # reserves, so that the model borrows the cores decoding leaves idle
    threads: int = 1


class ScoreSegments:
    """Actor class for `map_batches(..., batch_format="pyarrow")`."""

    def __init__(self, settings: ScoreSettings):
        self.settings = settings
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cpu":
            torch.set_num_threads(settings.threads)
        self.model, self.preprocess, self.tokenizer = clip.load(settings.clip, self.device)
        self.gpu_preprocess = clip.TensorPreprocess.of(self.preprocess) if self.device == "cuda" else None
        weights = None if settings.clip.random_init else aesthetic.head_weights(settings.head, settings.head_path)
        self.head = aesthetic.build_head(settings.head, weights).to(self.device)
        log.info("scoring with %s on %s", settings.clip.label, self.device)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        scorable = [r for r in rows if r["status"] == "ok" and r["keyframes"]]
        if scorable:
            with metrics.timed("vidcurate_scoring_batch_seconds"):
                self._score(scorable)
        return table_from_rows(rows, CANDIDATES)

    def _score(self, rows: list[dict]) -> None:
        try:
            embeddings = self.embed_keyframes([b for r in rows for b in r["keyframes"]])
            texts = self._text_embeddings(rows)
        except torch.OutOfMemoryError as exc:  # the batch does not fit: its rows are marked, the job goes on
            for r in rows:
                r.update(error_fields("score", r["uri"], exc))
            return
        offset = 0
        for r in rows:
            frames = embeddings[offset : offset + len(r["keyframes"])]
            offset += len(r["keyframes"])
            caption = manifest_caption(r)
            r.update(self._row_scores(frames, texts.get(caption) if caption else None))

    def embed_keyframes(self, jpegs: list[bytes]) -> np.ndarray:
        """L2-normalised embeddings of JPEG keyframes. On a GPU, decoding (nvJPEG) and
        preprocessing run there too and the model in bfloat16, so the actor's CPU does not
        bound throughput; on CPU, open_clip's own PIL preprocess and float32."""
        with torch.no_grad():
            if self.gpu_preprocess is None:
                pixels = torch.stack([self.preprocess(decode_jpeg(b)) for b in jpegs]).to(self.device)
                out = self.model.encode_image(pixels)
            else:
                encoded = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in jpegs]
                pixels = self.gpu_preprocess(decode_jpeg_tensors(encoded, mode=ImageReadMode.RGB, device=self.device))
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    out = self.model.encode_image(pixels)
        return torch.nn.functional.normalize(out.float(), dim=-1).cpu().numpy()

    def _text_embeddings(self, rows: list[dict]) -> dict[str, np.ndarray]:
        texts = sorted({t for t in (manifest_caption(r) for r in rows) if t})
        if not texts:
            return {}
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device == "cuda"):
            out = self.model.encode_text(self.tokenizer(texts).to(self.device))
        return dict(zip(texts, torch.nn.functional.normalize(out.float(), dim=-1).cpu().numpy(), strict=True))

    def _row_scores(self, frames: np.ndarray, text: np.ndarray | None) -> dict:
        s = self.settings
        per_frame = aesthetic.score(self.head, torch.from_numpy(frames).to(self.device)).cpu().numpy()
        return {
            "embedding": pooled_embedding(frames).tolist(),
            "clip_similarity": text_similarity(frames, text) if text is not None else None,
            "clip_model": s.clip.label,
            "scores_meaningful": s.meaningful,
            "aesthetic": aggregate(per_frame, s.aggregate),
            "aesthetic_frames": per_frame.astype(float).tolist(),
            "aesthetic_model": s.head.name,
        }
