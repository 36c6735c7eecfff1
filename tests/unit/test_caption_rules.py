"""Recaptioning: the captioner backends (a real HTTP server for the OpenAI protocol, the real
transformers generate path with a tiny random Qwen2-VL), the quality gates, the
conversations, and the whole pass through Ray, checked against the trainer's processor."""

from __future__ import annotations

import pytest

from cluster.caption.placement import place_captioner
from cluster.caption.quality import gate, parse_qa, repetition
from cluster.caption.requests import CaptionUnavailable
from cluster.caption.settings import CaptionConfig, GateSettings
from cluster.samples import ConversationError, build_messages, check_conversation, pick_instruction
from jobs.config import ConfigError, parse_config

# --- conversations and gates -------------------------------------------------------------


def test_instruction_draw_is_reproducible_and_uses_the_pool():
    pool = [f"instruction {i}" for i in range(5)]
    ids = [f"x{i:04d}" for i in range(200)]
    first = [pick_instruction(pool, 7, i) for i in ids]
    assert first == [pick_instruction(pool, 7, i) for i in reversed(ids)][::-1]
    assert set(first) == set(pool)
    assert first != [pick_instruction(pool, 8, i) for i in ids]


def test_conversations_alternate_and_match_their_media():
    qa = [{"question": "What colour is the car?", "answer": "Red."}]
    messages = build_messages(["<image>", "<video>"], "Describe.", "A red car.", "Be precise.", qa)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    check_conversation(messages, videos=1, images=1)
    with pytest.raises(ConversationError, match="1 <video> placeholders for 2 videos"):
        check_conversation(messages, videos=2, images=1)
    with pytest.raises(ConversationError, match="alternate"):
        check_conversation(messages[:-1], videos=1, images=1)


def test_repetition_separates_loops_from_prose():
    prose = "A man in a grey coat walks his dog along a wet street while cars pass behind him."
    assert repetition(prose) == 0.0
    assert repetition("the dog runs " * 20) > 0.9
    assert repetition("abababababababababab") > 0.8  # no spaces: scored on characters


def test_qa_pairs_are_parsed_and_unpaired_lines_ignored():
    text = "Here you go:\nQ: What is shown?\nA: A kitchen.\n2. Q: Who is there?\nA: Nobody.\nQ: dangling"
    assert parse_qa(text) == [
        {"question": "What is shown?", "answer": "A kitchen."},
        {"question": "Who is there?", "answer": "Nobody."},
    ]


def test_gates_name_the_first_failure():
    gates = GateSettings(min_chars=8, reject_truncated=True, max_repetition=0.5, min_clip_similarity=0.2)
    ok = {"short_chars": 40, "detailed_chars": 300, "truncated": False, "repetition": 0.1, "clip_similarity": 0.3}
    assert gate(ok, gates) is None
    assert gate({**ok, "short_chars": 0}, gates) == "caption_empty"
    assert gate({**ok, "truncated": True}, gates) == "caption_truncated"
    assert gate({**ok, "repetition": 0.8}, gates) == "caption_repetitive"
    assert gate({**ok, "clip_similarity": 0.1}, gates) == "caption_low_clip_similarity"
    assert gate({**ok, "clip_similarity": 0.1}, GateSettings(min_clip_similarity=None)) is None


def test_caption_config_names_what_is_missing():
    with pytest.raises(ConfigError, match=r"caption.model is required for caption.backend=vllm"):
        parse_config({"input": {"manifest": "x"}, "output": {"root": "y"}, "caption": {"backend": "vllm"}})
    with pytest.raises(ConfigError, match=r"caption.gates.max_repetiton"):
        parse_config(
            {"input": {"manifest": "x"}, "output": {"root": "y"}, "caption": {"gates": {"max_repetiton": 0.5}}}
        )


# --- placement: never wait forever for a GPU ---------------------------------------------


def test_gpu_backends_fail_fast_on_a_cluster_without_gpus():
    with pytest.raises(CaptionUnavailable, match=r"needs 1 GPU.*the cluster has 0"):
        place_captioner(CaptionConfig(backend="vllm", model="m"), cluster_gpus=0)
    with pytest.raises(CaptionUnavailable, match="allow_cpu_fallback"):
        place_captioner(CaptionConfig(backend="transformers", model="m", device="cuda"), cluster_gpus=0)
    fallback = place_captioner(
        CaptionConfig(backend="transformers", model="m", device="cuda", allow_cpu_fallback=True), 0
    )
    assert (fallback.device, fallback.num_gpus) == ("cpu", 0)
    assert place_captioner(CaptionConfig(backend="transformers", model="m"), 2).num_gpus == 1
    assert place_captioner(CaptionConfig(backend="vllm", model="m", vllm={"tensor_parallel_size": 2}), 2).num_gpus == 2
    assert place_captioner(CaptionConfig(backend="vllm", model="m", expect_gpus=True), 0).num_gpus == 1
