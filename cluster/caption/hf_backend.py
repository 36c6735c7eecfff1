"""transformers backend: AutoProcessor + AutoModelForImageTextToText, batched generate."""

from __future__ import annotations

import logging
from itertools import groupby

import torch

from cluster.caption.requests import CaptionRequest, Generation, user_turn
from cluster.caption.settings import CaptionConfig

log = logging.getLogger(__name__)

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


class TransformersCaptioner:
    def __init__(self, cfg: CaptionConfig, model: str, device: str):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.cfg = cfg
        self.model_name = model if cfg.backend == "transformers" else "vidcurate/tiny-random-qwen2-vl"
        self.device = device
        dtype = DTYPES.get(cfg.dtype) or (torch.bfloat16 if device == "cuda" else torch.float32)
        self.processor = AutoProcessor.from_pretrained(model)
        self.processor.tokenizer.padding_side = "left"  # decoder-only batches pad on the left
        loaded = AutoModelForImageTextToText.from_pretrained(model, dtype=dtype)
        # transformers wraps PreTrainedModel.to in a decorator that its annotations type as unbound
        self.model = loaded.to(device).eval()  # type: ignore[arg-type]
        eos = self.model.generation_config.eos_token_id
        self.stop_ids = set(eos if isinstance(eos, list) else [eos])
        log.info("captioner %s loaded on %s (%s)", self.model_name, device, dtype)

    def generate(self, requests: list[CaptionRequest]) -> list[Generation]:
        """Requests sharing a token budget run as one batch; results keep the input order."""
        results: dict[int, Generation] = {}
        order = sorted(range(len(requests)), key=lambda i: requests[i].max_new_tokens)
        for budget, group in groupby(order, key=lambda i: requests[i].max_new_tokens):
            indices = list(group)
            for i, generation in zip(indices, self._generate([requests[i] for i in indices], budget), strict=True):
                results[i] = generation
        return [results[i] for i in range(len(requests))]

    def _generate(self, requests: list[CaptionRequest], budget: int) -> list[Generation]:
        g = self.cfg.generation
        texts = [
            self.processor.apply_chat_template(user_turn(r.prompt), add_generation_prompt=True, tokenize=False)
            for r in requests
        ]
        inputs = self.processor(
            text=texts,
            videos=[r.frames for r in requests],
            padding=True,
            return_tensors="pt",
            videos_kwargs={"do_sample_frames": False},
        ).to(self.device)
        sampling = (
            {"do_sample": True, "temperature": g.temperature, "top_p": g.top_p}
            if g.temperature > 0
            else {"do_sample": False}
        )
        torch.manual_seed(g.seed)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=budget,
                max_time=self.cfg.batch_timeout_s,  # a slow batch ends truncated, not stuck
                pad_token_id=self.processor.tokenizer.pad_token_id,
                **sampling,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
        return [self._generation(tokens) for tokens in new_tokens]

    def _generation(self, tokens: list[int]) -> Generation:
        stopped = next((i for i, t in enumerate(tokens) if t in self.stop_ids), None)
        kept = tokens if stopped is None else tokens[:stopped]
        text = self.processor.tokenizer.decode(kept, skip_special_tokens=True).strip()
        return Generation(text=text, finish_reason="length" if stopped is None else "stop")
