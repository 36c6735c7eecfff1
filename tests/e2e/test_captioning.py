"""Recaptioning: the captioner backends (a real HTTP server for the OpenAI protocol, the real
transformers generate path with a tiny random Qwen2-VL), the quality gates, the
conversations, and the whole pass through Ray, checked against the trainer's processor."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from chat_server import ChatServer, Reply, first_image_key, prompt_of
from offline_runs import OFFLINE
from PIL import Image

from cluster.caption.openai_backend import OpenAICaptioner
from cluster.caption.requests import CaptionRequest, CaptionUnavailable
from cluster.caption.settings import CaptionConfig, GateSettings
from cluster.caption.tiny_model import offline_processor, tiny_model_dir
from cluster.models.presets import resolve
from cluster.pipeline.materialize_pass import prepare_captioning, samples_dataset
from cluster.stages.caption_stage import generate_splitting
from cluster.stages.compose_stage import ComposeSamples, ComposeSettings
from cluster.store import output_store
from cluster.tokens.text import template_messages
from jobs.config import parse_config
from jobs.curate import run
from schemas.tables import DATASET

FRAMES = [np.full((56, 84, 3), v, np.uint8) for v in (10, 80, 160, 240)]
NO_GATES = {"min_chars": None, "reject_truncated": False, "max_repetition": None, "min_clip_similarity": None}


def _openai(server: ChatServer, **openai) -> OpenAICaptioner:
    settings = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.05, **openai, "base_url": server.base_url}
    return OpenAICaptioner(CaptionConfig(backend="openai", model="served-vlm", openai=settings))


def _request(prompt: str = "Describe this video.") -> CaptionRequest:
    return CaptionRequest(FRAMES, prompt, 32)


# --- placement: never wait forever for a GPU ---------------------------------------------


def test_a_gpu_backend_on_a_cpu_cluster_stops_the_job_before_any_work(ray_head, caption_inputs, tmp_path):
    cfg = parse_config(
        {
            "input": {"manifest": str(caption_inputs)},
            "output": {"root": str(tmp_path / "out")},
            "caption": {"backend": "transformers", "model": str(tiny_model_dir()), "device": "cuda"},
            **OFFLINE,
        }
    )
    with pytest.raises(CaptionUnavailable, match=r"caption.device=cuda but the cluster has 0 GPU"):
        run(cfg)
    assert not (tmp_path / "out" / "candidates").exists()


# --- openai backend against a real HTTP server --------------------------------------------


def test_openai_backend_sends_frames_and_reads_the_answer():
    with ChatServer(lambda p, a: Reply("A grey square fades to white.")) as server:
        (result,) = _openai(server).generate([_request("Say what happens.")])
    assert (result.text, result.finish_reason, result.error) == ("A grey square fades to white.", "stop", None)
    (payload,) = server.requests
    parts = payload["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url"] * 4 + ["text"]
    assert parts[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert (parts[-1]["text"], payload["model"], payload["max_tokens"]) == ("Say what happens.", "served-vlm", 32)


def test_openai_backend_retries_server_errors_rate_limits_and_timeouts():
    def behave(payload, attempt):
        prompt = prompt_of(payload)
        if attempt == 1 and prompt == "busy":
            return Reply(status=503)
        if attempt == 1 and prompt == "limited":
            return Reply(status=429, headers={"Retry-After": "0.2"})
        if attempt == 1 and prompt == "slow":
            return Reply("late", delay_s=3.0)  # past the 1 s timeout
        return Reply(f"answer to {prompt}")

    with ChatServer(behave) as server:
        results = _openai(server, timeout_s=1.0).generate([_request(p) for p in ("busy", "limited", "slow", "fine")])
    assert [r.text for r in results] == ["answer to busy", "answer to limited", "answer to slow", "answer to fine"]
    assert sorted(server.attempts.values()) == [1, 2, 2, 2]


def test_openai_backend_gives_up_with_the_reason():
    def behave(payload, attempt):
        return Reply(status=400) if prompt_of(payload) == "bad" else Reply(status=500)

    with ChatServer(behave) as server:
        bad, down = _openai(server, retries=2).generate([_request("bad"), _request("down")])
    assert bad.finish_reason == "error" and "HTTP 400" in bad.error
    assert down.finish_reason == "error" and "gave up after 3 attempts" in down.error and "HTTP 500" in down.error
    assert sorted(server.attempts.values()) == [1, 3]  # a client error is not retried


def test_openai_backend_reports_truncation_and_malformed_answers():
    def behave(payload, attempt):
        if prompt_of(payload) == "garbled":
            return Reply(raw="{not json")
        return Reply("cut off mid", finish_reason="length")

    with ChatServer(behave) as server:
        cut, garbled = _openai(server).generate([_request("long"), _request("garbled")])
    assert cut.truncated and cut.text == "cut off mid"
    assert garbled.finish_reason == "error" and "malformed" in garbled.error


def test_openai_backend_bounds_requests_in_flight():
    with ChatServer(lambda p, a: Reply("ok", delay_s=0.2)) as server:
        results = _openai(server, concurrency=3).generate([_request(f"p{i}") for i in range(12)])
    assert [r.text for r in results] == ["ok"] * 12
    assert server.max_in_flight == 3


# --- transformers backend: the real generate path on a tiny random Qwen2-VL ---------------


@pytest.fixture(scope="module")
def tiny_captioner():
    from cluster.caption.hf_backend import TransformersCaptioner

    cfg = CaptionConfig(backend="tiny-random", generation={"temperature": 0})
    return TransformersCaptioner(cfg, str(tiny_model_dir()), "cpu")


def test_transformers_backend_generates_for_mixed_batches(tiny_captioner):
    requests = [CaptionRequest(FRAMES, "Describe.", 12), CaptionRequest(FRAMES[:2], "Describe briefly.", 5)]
    long, short = tiny_captioner.generate(requests)
    assert isinstance(long.text, str) and isinstance(short.text, str)
    assert long.finish_reason in ("stop", "length") and short.finish_reason in ("stop", "length")
    assert tiny_captioner.generate(requests[1:]) == [short]  # greedy: same answer alone or batched


def test_out_of_memory_splits_the_batch_and_keeps_the_order(tiny_captioner):
    class SmallGPU:
        model_name = "tiny"

        def __init__(self):
            self.calls = []

        def generate(self, requests):
            self.calls.append(len(requests))
            if len(requests) > 1:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return tiny_captioner.generate(requests)

    requests = [CaptionRequest(FRAMES[: n + 1], f"Describe part {n}.", 6) for n in range(3)]
    gpu = SmallGPU()
    results = generate_splitting(gpu, requests)
    assert results == [tiny_captioner.generate([r])[0] for r in requests]
    assert gpu.calls == [3, 1, 2, 1, 1]


# --- the whole pass through Ray ------------------------------------------------------------


def _pipeline_config(manifest, out, caption: dict, tokenizer: str | None = None, **sample):
    return parse_config(
        {
            "input": {"manifest": str(manifest)},
            "output": {"root": str(out), "rows_per_shard": 4, "media": "frames"},
            "split": {"min_seconds": 2.0, "max_seconds": 8.0},
            "tokens": {"consumer": "llamafactory", "family": "qwen2.5-vl", "tokenizer": tokenizer},
            "sample": sample,
            "caption": caption,
            **OFFLINE,
        }
    )


@pytest.fixture(scope="module")
def caption_inputs(tmp_path_factory, shared_videos):
    root = tmp_path_factory.mktemp("caption_inputs")
    rows = [{"uri": str(shared_videos / n)} for n in ("chaplin.mp4", "testvideo.mp4", "counter.mp4")]
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


@pytest.fixture(scope="module")
def tiny_run(ray_head, caption_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_run")
    caption = {
        "backend": "tiny-random",
        "generation": {"max_new_tokens": 24, "short_max_new_tokens": 8},
        "gates": NO_GATES,
    }
    tokenizer = str(tiny_model_dir())  # the trainer's tokenizer: text tokens are counted with it
    summary = run(_pipeline_config(caption_inputs, out, caption, tokenizer, include_image=True, image_samples=True))
    return out, summary


def test_pass_3_starts_media_tasks_without_waiting_for_a_row_actor_and_captions_in_one_actor(
    ray_head, caption_inputs, tmp_path, capsys
):
    """The plan Ray Data runs: a chunk's rows are read by a task fused with the split into
    small blocks (an actor there, or a separate split task holding a CPU, kept the first media
    tasks waiting for seconds), the media tasks stay out of the captioner's process, and
    captioning, caption scoring and composing share one actor."""
    cfg = _pipeline_config(caption_inputs, tmp_path, {"backend": "tiny-random"})
    profile, _ = cfg.tokens.effective()
    captioning = prepare_captioning(cfg, resolve(cfg.scoring)[0])
    work = [{"chunk": 0, "segments": "{}"}]
    samples_dataset(cfg, profile, work, output_store(cfg.output), [], captioning).explain()
    optimized = capsys.readouterr().out.split("Physical Plan (Optimized)")[1]
    operators = [line.strip("+- ") for line in optimized.splitlines() if "[" in line]
    assert operators == [
        "ActorPoolMapOperator[MapBatches(Chained)]",
        "TaskPoolMapOperator[MapBatches(MaterializeSegment)]",
        "TaskPoolMapOperator[MapBatches(chunk_rows)->StreamingRepartition[num_rows_per_block=4,strict=False]]",
        "InputDataBuffer[Input]",
    ]


def test_tiny_random_captions_every_kept_segment_and_says_they_are_meaningless(tiny_run):
    out, summary = tiny_run
    table = pq.read_table(out / "dataset")
    assert table.schema.equals(DATASET) and summary["balanced"]
    rows = table.to_pylist()
    videos = [r for r in rows if r["sample_kind"] == "video"]
    images = [r for r in rows if r["sample_kind"] == "image"]
    assert len(videos) == summary["segments"]["kept"] == len(images) == summary["samples"] // 2
    for row in videos:
        assert row["caption_status"] == "random_weights" and row["caption_model"] == "vidcurate/tiny-random-qwen2-vl"
        assert json.loads(row["caption_settings"])["meaningless"] is True
        assert row["messages"][-1]["content"] == row["caption_detailed"]
        assert row["caption_quality"]["clip_similarity"] is not None
    for row in images:
        assert row["messages"][0]["content"].startswith("<image>") and row["videos"] == [] and len(row["images"]) == 1
        assert row["messages"][1]["content"] == row["caption_short"]
    args = json.loads((out / "trainer_args.json").read_text())  # text counted: the limit covers whole samples
    assert args["text_counted"] is True and args["llamafactory"]["cutoff_len"] == max(r["total_tokens"] for r in rows)
    assert "plus the text of each conversation" in (out / "report" / "index.html").read_text()


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl"])
def test_stored_counts_equal_the_pad_tokens_the_trainers_processor_emits(tiny_run, family):
    """The real Qwen2-VL / Qwen2.5-VL processor with a tokenizer that knows the special
    tokens, fed each written sample as LLaMA-Factory would (pre-scaled media): its pad runs
    are the stored counts, and its whole sequence is the stored total, text included."""
    out, _ = tiny_run
    processor = offline_processor(family, min_pixels=56 * 56, max_pixels=16384 * 28 * 28)
    pad = processor.tokenizer.convert_tokens_to_ids
    for row in pq.read_table(out / "dataset").to_pylist()[:8]:
        videos = [[np.asarray(Image.open(out / p)) for p in frames] for frames in row["videos"]]
        images = [np.asarray(Image.open(out / p)) for p in row["images"]]
        inputs = processor(
            text=[processor.apply_chat_template(template_messages(row["messages"]), tokenize=False)],
            videos=videos or None,
            images=images or None,
            return_tensors="np",
        )
        ids = inputs["input_ids"][0]
        assert int((ids == pad("<|video_pad|>")).sum()) == row["video_pad_tokens"], row["id"]
        assert int((ids == pad("<|image_pad|>")).sum()) == row["image_pad_tokens"], row["id"]
        assert row["text_tokens"] > 0 and len(ids) == row["total_tokens"] == row["visual_tokens"] + row["text_tokens"]


def test_openai_captioning_through_ray_filters_errors_and_recovers(ray_head, caption_inputs, tmp_path):
    """Through the real pipeline: transient failures are retried, one segment's captioner
    keeps refusing (an error row), one segment gets a looping caption (filtered), the rest
    carry the server's captions and QA turns; every segment is accounted for."""
    segments: list[str] = []

    def behave(payload, attempt):
        key = first_image_key(payload)
        if key not in segments:
            segments.append(key)
        order, prompt = segments.index(key), prompt_of(payload)
        if order == 0:
            return Reply(status=400)
        if attempt == 1 and hash(prompt) % 2:
            return Reply(status=503)
        if prompt.startswith("Write 2 question-answer"):
            return Reply("Q: What moves?\nA: A shape.\nQ: Is it bright?\nA: Yes, fairly.")
        if order == 1 and prompt.startswith("Describe this video in detail"):
            return Reply("the same words again " * 12)
        return Reply(f"Segment {order}: shapes drift across a plain background as the light changes slowly.")

    with ChatServer(behave) as server:
        caption = {
            "backend": "openai",
            "model": "served-vlm",
            "qa_pairs": 2,
            "openai": {"base_url": server.base_url, "timeout_s": 10, "retries": 2, "backoff_s": 0.05},
            "gates": {"min_clip_similarity": None},
        }
        summary = run(_pipeline_config(caption_inputs, tmp_path / "out", caption))
    seg = summary["segments"]
    assert summary["balanced"] and len(segments) == seg["total"] - sum(seg["filtered_by_reason"].values()) + 1
    assert seg["errored_by_reason"] == {"caption:CaptionFailed": 1}
    assert seg["filtered_by_reason"]["caption_repetitive"] == 1
    rows = pq.read_table(tmp_path / "out" / "dataset").to_pylist()
    assert len(rows) == seg["kept"] == len(segments) - 2
    for row in rows:
        assert row["caption_status"] == "captioned" and row["caption_model"] == "served-vlm"
        assert row["caption_detailed"].startswith("Segment ") and row["qa"][0]["question"] == "What moves?"
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * 3
    errors = pq.read_table(tmp_path / "out" / "errors").to_pylist()
    (failed,) = [e for e in errors if e["stage"] == "caption"]
    assert "HTTP 400" in failed["error_message"]


def test_text_that_pushes_a_sample_over_max_total_tokens_filters_its_segment(tmp_path):
    """The media were fitted to max_total_tokens before the caption existed; when the text
    the tokenizer counts makes the sample longer, the segment is filtered with the reason."""
    tokenizer = str(tiny_model_dir(tmp_path))
    media = [
        {
            "kind": "video",
            "placeholder": "<video>",
            "pad_tokens": 100,
            "sequence_tokens": 102,
            "timestamps": [],
            "timestamp_tokens": 0,
        }
    ]
    quality = {"short_chars": 8, "detailed_chars": 38, "truncated": False, "repetition": 0.0, "clip_similarity": 0.3}
    row = {
        "status": "ok",
        "caption_status": "captioned",
        "caption_quality": quality,
        "id": "s1",
        "segment_id": "g1",
        "media": media,
        "images": [],
        "videos": [["media/f0.jpg", "media/f1.jpg"]],
        "video_clips": [],
        "caption_short": "A shape.",
        "caption_detailed": "A bright shape moves across the frame.",
        "manifest_text": None,
        "qa": None,
    }
    settings = {
        "instructions": ("Describe this video.",),
        "image_instructions": ("Describe.",),
        "seed": 0,
        "system": None,
        "answer": "detailed",
        "include_qa": False,
        "include_image": False,
        "image_samples": False,
        "gates": GateSettings(**NO_GATES),
        "tokenizer": tokenizer,
    }
    (sample,) = ComposeSamples(ComposeSettings(**settings)).compose(row)
    assert sample["visual_tokens"] == 102 and sample["total_tokens"] == 102 + sample["text_tokens"]
    assert ComposeSamples(ComposeSettings(**settings, max_total_tokens=sample["total_tokens"])).compose(row) == [sample]
    (filtered,) = ComposeSamples(ComposeSettings(**settings, max_total_tokens=sample["total_tokens"] - 1)).compose(row)
    assert filtered["status"] == "filtered" and filtered["reason"] == "over_token_budget"
    assert f"({sample['text_tokens']})" in filtered["error_message"]
