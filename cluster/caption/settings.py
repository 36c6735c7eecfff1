"""Captioning settings (the `caption` section of the run config), validated by pydantic."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.digest import outside_digest

DEFAULT_SHORT_PROMPT = "Describe this video in one sentence: the main subject, what happens, and the setting."
DEFAULT_DETAILED_PROMPT = (
    "Describe this video in detail. Cover the subjects and their appearance, the actions and "
    "how they change over time, the setting, camera motion and shot changes, and any visible "
    "text. Describe only what is shown; do not guess sounds or intentions."
)
DEFAULT_QA_PROMPT = (
    "Write {n} question-answer pairs about what is visible in this video. Use exactly this "
    "format, one pair per two lines:\nQ: <question>\nA: <answer>"
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerationSettings(_Section):
    max_new_tokens: int = Field(256, ge=1, description="per caption; reaching it marks the caption truncated")
    short_max_new_tokens: int = Field(64, ge=1)
    temperature: float = Field(0.2, ge=0)
    top_p: float = Field(0.9, gt=0, le=1)
    seed: int = 0


class OpenAISettings(_Section):
    base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible server root")
    api_key_env: str | None = Field("OPENAI_API_KEY", description="environment variable holding the key")
    concurrency: int = Field(8, ge=1, description="requests in flight per actor")
    timeout_s: float = Field(120.0, gt=0, description="per request")
    retries: int = Field(3, ge=0, description="extra attempts after a timeout, connection error, 429 or 5xx")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles each retry")


class VLLMSettings(_Section):
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int = Field(32768, ge=1024)
    max_num_seqs: int = Field(64, ge=1)


class GateSettings(_Section):
    """Caption quality gates; every score is stored, a null threshold turns the gate off."""

    min_chars: int | None = Field(8, ge=1)
    reject_truncated: bool = True
    max_repetition: float | None = Field(0.5, gt=0, le=1, description="share of repeated 4-grams")
    min_clip_similarity: float | None = Field(0.15, description="caption text vs the segment's keyframes")


class CaptionConfig(_Section):
    """Pass-3 recaptioning. backend none keeps the manifest text (or an explicit
    not_captioned status); tiny-random captions with a randomly initialised tiny Qwen2-VL
    built offline (captions are meaningless and marked so)."""

    backend: Literal["none", "transformers", "vllm", "openai", "tiny-random"] = "none"
    model: str | None = Field(
        None, description="HF model id or local path (transformers, vllm); served model name (openai)"
    )
    device: Literal["auto", "cuda", "cpu"] = Field(
        "auto", description="transformers: auto uses a GPU when the cluster has one"
    )
    allow_cpu_fallback: bool = Field(
        False,
        description="run a cuda-configured transformers captioner on CPU when the cluster has no GPU",
        json_schema_extra=outside_digest("where the captioner runs"),
    )
    expect_gpus: bool = Field(
        False, description="request GPUs even when none is up yet (GPU workers autoscale from zero)"
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    replicas: int = Field(1, ge=1, description="captioner actors", json_schema_extra=outside_digest("throughput only"))
    gpus_per_replica: float = Field(1, gt=0, json_schema_extra=outside_digest("throughput only"))
    cpus_per_replica: float = Field(1, gt=0, json_schema_extra=outside_digest("throughput only"))
    batch_size: int = Field(
        8, ge=1, description="segments per actor call", json_schema_extra=outside_digest("throughput only")
    )
    batch_timeout_s: float = Field(600.0, gt=0, description="generation time limit per batch (local backends)")
    short_prompt: str = DEFAULT_SHORT_PROMPT
    detailed_prompt: str = DEFAULT_DETAILED_PROMPT
    qa_pairs: int = Field(0, ge=0, le=10, description="question-answer pairs per segment (0: none)")
    qa_prompt: str = DEFAULT_QA_PROMPT
    generation: GenerationSettings = GenerationSettings()
    openai: OpenAISettings = Field(OpenAISettings(), json_schema_extra=outside_digest("how the server is reached"))
    vllm: VLLMSettings = Field(VLLMSettings(), json_schema_extra=outside_digest("how the engine runs"))
    gates: GateSettings = GateSettings()

    @model_validator(mode="after")
    def _model_named(self) -> CaptionConfig:
        if self.backend in ("transformers", "vllm", "openai") and not self.model:
            raise ValueError(f"caption.model is required for caption.backend={self.backend}")
        return self

    @property
    def enabled(self) -> bool:
        return self.backend != "none"
