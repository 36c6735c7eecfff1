"""CLIP scoring: real aesthetic heads, the scoring stage against a direct open_clip
forward, and re-thresholding that touches only selection/."""

import hashlib
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from local_inputs import access
from PIL import Image
from torchvision.io import ImageReadMode
from torchvision.io import decode_jpeg as decode_jpeg_tensors

from cluster.models import aesthetic, clip
from cluster.models.presets import resolve
from cluster.pipeline.segment_pass import ScoringUnavailable, prepare_scoring
from cluster.stages.keyframe_stage import DecodeKeyframes, decode_jpeg
from jobs.config import ScoringConfig, parse_config
from jobs.curate import run
from jobs.select import main as select_main

HEADS = [
    ("laion-linear-vit-b-32", "laion_sa_0_4_vit_b_32_linear.pth", "vit_b_32"),
    ("laion-linear-vit-l-14", "laion_sa_0_4_vit_l_14_linear.pth", "vit_l_14"),
    ("improved-sac-logos-ava1-l14", "improved_sac+logos+ava1-l14-linearMSE.pth", "vit_l_14"),
]


@pytest.fixture(scope="session")
def aesthetic_dir(shared_videos):
    return shared_videos.parent / "models" / "aesthetic"


@pytest.mark.parametrize("name,file,emb", HEADS)
def test_real_heads_score_higher_for_higher_rated_embeddings(aesthetic_dir, name, file, emb):
    head = aesthetic.build_head(
        aesthetic.HEADS[name], aesthetic.head_weights(aesthetic.HEADS[name], str(aesthetic_dir / file))
    )
    embeddings = torch.tensor(
        np.concatenate([np.load(aesthetic_dir / "emb" / f"{emb}_rating{k}.npy") for k in range(10)])
    )
    scores = aesthetic.score(head, embeddings).numpy()
    assert np.all(np.diff(scores) > 0)
    assert 0 < scores[5] < 10


def test_unfetchable_weights_fail_fast_naming_the_model_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ScoringUnavailable, match=r"ViT-B-32.*clip_checkpoint"):
        prepare_scoring(ScoringConfig(preset="fast"))


@pytest.fixture(scope="module")
def scored(ray_head, shared_videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("scored")
    manifest = out / "m.jsonl"
    rows = [
        {"uri": str(shared_videos / "chaplin.mp4"), "title": "A man in a hat", "description": "Silent film."},
        {"uri": str(shared_videos / "example.mp4"), "description": ""},
        {"uri": str(shared_videos / "counter.mp4"), "transcript": 12},
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    raw = {
        "input": {"manifest": str(manifest)},
        "output": {"root": str(out / "run")},
        "split": {"mode": "fixed", "min_seconds": 1.0, "max_seconds": 6.0},
        "scoring": {"preset": "random", "keyframes": 3},
        "filters": {"min_aesthetic": None, "min_clip_similarity": None},
    }
    summary = run(parse_config(raw))
    return out, raw, summary


def test_every_segment_has_scores_and_a_unit_embedding(scored):
    out, _, _ = scored
    rows = [r for r in pq.read_table(out / "run" / "candidates").to_pylist() if r["status"] == "ok"]
    assert rows
    for r in rows:
        assert len(r["embedding"]) == 512 and np.linalg.norm(r["embedding"]) == pytest.approx(1, abs=1e-5)
        assert len(r["aesthetic_frames"]) == 3 and r["aesthetic"] == pytest.approx(np.mean(r["aesthetic_frames"]))
        assert len(r["keyframe_diffs"]) == 2 and 0 <= r["redundancy"] <= 1
        assert r["scores_meaningful"] is False and r["clip_model"] == "ViT-B-32/random-init"


def test_similarity_is_null_without_text(scored):
    out, _, _ = scored
    rows = pq.read_table(out / "run" / "candidates").to_pylist()
    by_video = {r["uri"].rsplit("/", 1)[1]: r for r in rows if r["status"] == "ok"}
    assert by_video["chaplin.mp4"]["clip_similarity"] is not None
    assert by_video["example.mp4"]["clip_similarity"] is None  # empty text
    assert by_video["counter.mp4"]["clip_similarity"] is None  # non-string text


def test_stage_embeddings_equal_a_direct_open_clip_forward(scored):
    out, raw, _ = scored
    cfg = parse_config(raw)
    spec, _ = resolve(cfg.scoring)
    model, preprocess, _ = clip.load(spec, "cpu")
    row = next(r for r in pq.read_table(out / "run" / "candidates").to_pylist() if r["status"] == "ok")
    keyframes = DecodeKeyframes(3, 224, access(), 1.0)(row)["keyframes"]
    with torch.no_grad():
        direct = model.encode_image(torch.stack([preprocess(decode_jpeg(k)) for k in keyframes]))
    direct = torch.nn.functional.normalize(direct, dim=-1).numpy()
    pooled = direct.mean(axis=0)
    pooled /= np.linalg.norm(pooled)
    np.testing.assert_allclose(row["embedding"], pooled, atol=1e-5)


def test_the_caption_scorers_text_only_clip_embeds_text_as_the_whole_model_does():
    """Pass 3 scores captions with CLIP's text tower alone, beside the captioner: the same
    text embeddings as the model pass 1 scored with, without the vision weights."""
    spec = clip.ClipSpec("ViT-B-32", None, random_init=True)
    whole, _, tokenizer = clip.load(spec, "cpu")
    text_only, _ = clip.load_text(spec, "cpu")
    tokens = tokenizer(["a red car turns left", "two people talk in a kitchen"])
    with torch.no_grad():
        assert torch.equal(text_only.encode_text(tokens), whole.encode_text(tokens))
    vision = sum(p.numel() for p in whole.visual.parameters())
    assert sum(p.numel() for p in text_only.parameters()) == sum(p.numel() for p in whole.parameters()) - vision


def test_undecodable_keyframes_become_an_error_row(scored, tmp_path):
    out, _, _ = scored
    row = next(r for r in pq.read_table(out / "run" / "candidates").to_pylist() if r["status"] == "ok")
    broken = DecodeKeyframes(3, 224, access(), 1.0)({**row, "uri": str(tmp_path / "gone.mp4")})
    assert broken["status"] == "error" and broken["stage"] == "keyframes"


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def test_new_thresholds_rewrite_only_selection(scored, tmp_path):
    out, raw, _ = scored
    root = out / "run"
    config = tmp_path / "c.json"
    config.write_text(json.dumps(raw))  # YAML is a superset of JSON
    candidates_before, dataset_before = _digest(root / "candidates"), _digest(root / "dataset")
    assert select_main(["--config", str(config), "--set", "filters.max_redundancy=0.0"]) == 0
    decisions = pq.read_table(root / "selection").to_pylist()
    assert {d["drop_reason"] for d in decisions if d["segment_id"]} <= {"static", "too_short"}
    assert select_main(["--config", str(config)]) == 0
    assert any(d["keep"] for d in pq.read_table(root / "selection").to_pylist())
    assert _digest(root / "candidates") == candidates_before and _digest(root / "dataset") == dataset_before


@pytest.mark.parametrize("model", ["ViT-B-32", "ViT-L-14"])
def test_the_gpu_preprocess_gives_open_clips_pixels(model):
    """On CUDA the scoring actor decodes keyframe JPEGs with torchvision and preprocesses
    with tensor ops. Keyframes arrive with their short side at the model's input size, and
    there the pixels are exactly those of open_clip's PIL path (checked here on CPU); frames
    that need resizing differ by interpolation rounding only."""
    _, preprocess, _ = clip.load(clip.ClipSpec(model, None, random_init=True), "cpu")
    tensor_preprocess = clip.TensorPreprocess.of(preprocess)
    rng = np.random.default_rng(0)

    def both(shapes):
        jpegs = [_jpeg(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in shapes]
        tensors = decode_jpeg_tensors(
            [torch.frombuffer(bytearray(j), dtype=torch.uint8) for j in jpegs], mode=ImageReadMode.RGB
        )
        return tensor_preprocess(tensors), torch.stack([preprocess(decode_jpeg(j)) for j in jpegs])

    got, expected = both([(224, 398), (224, 398), (398, 224), (224, 224)])  # as DecodeKeyframes writes them
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    got, expected = both([(640, 360), (97, 513), (300, 300)])
    assert got.shape == expected.shape and (got - expected).abs().mean() < 0.005


def _jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()
