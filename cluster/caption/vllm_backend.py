"""vLLM backend: the offline engine, one batched multi-modal generate call per actor batch.

vLLM schedules the whole batch itself (continuous batching), so an actor hands it every
request at once and the GPU stays busy while the next batch's frames are read.
"""

from __future__ import annotations

import logging

import numpy as np

from cluster.caption.requests import CaptionRequest, CaptionUnavailable, Generation, user_turn
from cluster.caption.settings import CaptionConfig

log = logging.getLogger(__name__)


class VLLMCaptioner:
    def __init__(self, cfg: CaptionConfig):
        try:
            from vllm import LLM
        except ImportError as exc:
            raise CaptionUnavailable(
                "caption.backend=vllm needs vLLM on the GPU workers: install `vidcurate[vllm]` "
                "or use the GPU image built from infra/ (it is not installed on CPU-only machines)"
            ) from exc
        from transformers import AutoProcessor

        self.cfg = cfg
        self.model_name = str(cfg.model)
        v = cfg.vllm
        self.processor = AutoProcessor.from_pretrained(self.model_name)
        self.llm = LLM(
            model=self.model_name,
            tensor_parallel_size=v.tensor_parallel_size,
            gpu_memory_utilization=v.gpu_memory_utilization,
            max_model_len=v.max_model_len,
            max_num_seqs=v.max_num_seqs,
            limit_mm_per_prompt={"video": 1, "image": 0},
            dtype=cfg.dtype,
            seed=cfg.generation.seed,
        )
        log.info("vLLM engine for %s ready (tp=%d)", self.model_name, v.tensor_parallel_size)

    def generate(self, requests: list[CaptionRequest]) -> list[Generation]:
        from vllm import SamplingParams

        g = self.cfg.generation
        prompts = [
            {
                "prompt": self.processor.apply_chat_template(
                    user_turn(r.prompt), add_generation_prompt=True, tokenize=False
                ),
                "multi_modal_data": {"video": np.stack(r.frames)},
            }
            for r in requests
        ]
        params = [
            SamplingParams(max_tokens=r.max_new_tokens, temperature=g.temperature, top_p=g.top_p, seed=g.seed)
            for r in requests
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [
            Generation(
                text=o.outputs[0].text.strip(),
                finish_reason="length" if o.outputs[0].finish_reason == "length" else "stop",
            )
            for o in outputs
        ]
