"""Qwen3-VL counts equal what transformers' Qwen3VLProcessor builds from the written media,
handed over directly or through qwen-vl-utils (as ms-swift does), and qwen-vl-utils keeps
Qwen2.5-VL frame lists as written: pads, grids, timestamp texts and the length of
`input_ids`, on generated videos at 24, 25, 29.97 and 30 fps, odd frame counts, 1080p,
portrait, and the shared videos; the processors are built from trainer_args.json."""

import io
import json
import os
import re
from fractions import Fraction
from pathlib import Path

import decord
import numpy as np
import pyarrow.parquet as pq
import pytest
from offline_runs import run_offline
from PIL import Image
from qwen3_tokenizer import qwen3_tokenizer_dir

from cluster.samples import build_messages
from cluster.store import Store
from cluster.tokens.geometry import video_count
from cluster.tokens.profiles import TokenProfile
from cluster.tokens.sampling import plan_video
from cluster.tokens.text import TokenizerUnavailable, check_tokenizer, load_tokenizer, template_messages, text_tokens
from cluster.tokens.timestamps import timestamp_text
from cluster.video.media import encode_clip, encode_jpeg
from cluster.video.synth import scene_frames, write_video
from schemas.exports import ExportError, export
from schemas.trainer import trainer_args

os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")
import qwen_vl_utils.vision_process as qvu
from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor
from transformers.video_utils import VideoMetadata

Q3 = TokenProfile(consumer="hf-processor", family="qwen3-vl")
QVU = TokenProfile(consumer="qwen-vl-utils", family="qwen2.5-vl")
# name: (width, height, rate, scene seconds)
GENERATED = {
    "24fps": (640, 360, Fraction(24), [2.3, 1.9]),
    "25fps_odd": (426, 240, Fraction(25), [2.52]),
    "2997fps": (854, 480, Fraction(30000, 1001), [3.1, 2.0]),
    "30fps_1080p": (1920, 1080, Fraction(30), [2.5]),
    "portrait": (720, 1280, Fraction(30), [2.7]),
}
SHARED = ("chaplin.mp4", "counter.mp4", "fades.mp4", "testvideo.mp4")


@pytest.fixture(scope="module")
def videos(tmp_path_factory, shared_videos) -> list[Path]:
    root = tmp_path_factory.mktemp("q3videos")
    made = [
        write_video(root / f"{name}.mp4", scene_frames(w, h, round(rate), secs), rate)
        for name, (w, h, rate, secs) in GENERATED.items()
    ]
    return made + [shared_videos / name for name in SHARED]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    return qwen3_tokenizer_dir(tmp_path_factory.mktemp("tok"))


def _processor(tokenizer_dir: Path, profile: TokenProfile) -> Qwen3VLProcessor:
    """transformers' Qwen3-VL processor from its classes, with trainer_args.json's block verbatim."""
    block = trainer_args(profile, "/data", 1, True)["hf_processor"]
    tokenizer = load_tokenizer(str(tokenizer_dir))
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**block["image_processor"]),
        video_processor=Qwen3VLVideoProcessor(**block["video_processor"]),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )


def _segment(path: Path) -> tuple[decord.VideoReader, int, int]:
    """The video's second half as a segment, so its timestamps start past zero."""
    reader = decord.VideoReader(str(path))
    return reader, len(reader) // 2, len(reader)


def _frames(reader: decord.VideoReader, indices: list[int], size: tuple[int, int]) -> list[np.ndarray]:
    h, w = size
    batch = reader.get_batch(indices).asnumpy()
    return [np.asarray(Image.fromarray(f).resize((w, h), Image.BICUBIC)) for f in batch]


@pytest.mark.parametrize("profile", [Q3, Q3.with_overrides(fps=1.0), Q3.with_overrides(nframes=7)], ids=str)
def test_qwen3_counts_equal_the_processors_input_ids(videos, tokenizer_dir, profile):
    processor = _processor(tokenizer_dir, profile)
    tokenizer = processor.tokenizer
    ids_of = tokenizer.convert_tokens_to_ids
    for path in videos:
        reader, start, end = _segment(path)
        fps = reader.get_avg_fps()
        h, w = reader[0].shape[:2]
        plan = plan_video(end - start, fps, h, w, profile, first_frame=start)
        metadata = {"fps": fps, "frames_indices": [start + i for i in plan.indices], "total_num_frames": len(reader)}
        frames = _frames(reader, [start + i for i in plan.indices], plan.stored_size)
        messages = build_messages(["<video>"], "Describe this video.", "A moving square.", None)
        text = processor.apply_chat_template(template_messages(messages), tokenize=False)
        out = processor(text=[text], videos=[frames], video_metadata=[VideoMetadata(**metadata)], return_tensors="np")
        ids = out["input_ids"][0]
        assert tuple(int(x) for x in out["video_grid_thw"][0]) == plan.count.grid, path.name
        assert int((ids == ids_of("<|video_pad|>")).sum()) == plan.count.pad_tokens, path.name
        vision = sum(int((ids == ids_of(t)).sum()) for t in ("<|vision_start|>", "<|vision_end|>", "<|video_pad|>"))
        assert vision == plan.count.sequence_tokens, path.name
        written = re.findall(r"<[0-9.]+ seconds>", tokenizer.decode(ids))
        assert written == [timestamp_text(t) for t in plan.timestamps], path.name
        counted = text_tokens(tokenizer, messages, [plan.timestamps])
        assert len(ids) == plan.count.sequence_tokens + counted, path.name
        # without a tokenizer: the rule for the timestamps plus the plain text
        assert counted == text_tokens(tokenizer, messages) + plan.timestamp_tokens, path.name


def test_qwen_vl_utils_keeps_frame_lists_and_clips_as_written(videos, tmp_path):
    """ms-swift hands qwen-vl-utils the frame files: every path keeps the stored size."""
    block = trainer_args(QVU, "/data", 1, False)["qwen_vl_utils"]
    for path in videos:
        reader, start, end = _segment(path)
        h, w = reader[0].shape[:2]
        plan = plan_video(end - start, reader.get_avg_fps(), h, w, QVU)
        frames = _frames(reader, [start + i for i in plan.indices], plan.stored_size)
        files = []
        for i, frame in enumerate(frames):
            files.append(tmp_path / f"{path.stem}_{i:03d}.jpg")
            files[-1].write_bytes(encode_jpeg(frame, 95))
        clip = tmp_path / f"{path.stem}.mp4"
        clip.write_bytes(encode_clip(frames, plan.sampled_fps))
        for media in ([str(f) for f in files], str(clip)):
            video = qvu.fetch_video({"video": media, **block["video"]}, image_patch_size=block["image_patch_size"])
            t, _, rh, rw = video.shape
            assert (rh, rw) == plan.resized_size, (path.name, type(media))
            assert video_count(t, rh, rw, "qwen2.5-vl") == plan.count, (path.name, type(media))


def test_a_tokenizer_of_another_family_is_refused(tokenizer_dir):
    with pytest.raises(TokenizerUnavailable, match=r"Qwen3 tokenizer but tokens\.family 'qwen2\.5-vl'"):
        check_tokenizer(str(tokenizer_dir), "qwen2.5-vl")
    check_tokenizer(str(tokenizer_dir), "qwen3-vl")


def test_a_qwen3_run_writes_samples_the_processor_reproduces(ray_head, shared_videos, tokenizer_dir, tmp_path):
    """Through the job: frames and mp4 clips, handed to the processor with each sample's
    video_metadata, give the stored pads, timestamps and total; trainer_args covers them."""
    out = tmp_path / "out"
    summary = run_offline(
        [shared_videos / n for n in ("chaplin.mp4", "testvideo.mp4")],
        out,
        output={"media": "both"},
        sample={"include_image": True},
        tokens={"consumer": "hf-processor", "family": "qwen3.5", "tokenizer": str(tokenizer_dir)},
    )
    assert summary["samples"] > 0
    rows = pq.read_table(out / "dataset").to_pylist()
    args = json.loads((out / "trainer_args.json").read_text())
    assert args["profile"] == "hf-processor:qwen3-vl"
    assert args["max_tokens_per_sample"] == max(r["total_tokens"] for r in rows)
    processor = _processor(tokenizer_dir, Q3)
    ids_of = processor.tokenizer.convert_tokens_to_ids
    for row in rows[:6]:
        (item,) = [m for m in row["media"] if m["kind"] == "video"]
        text = processor.apply_chat_template(template_messages(row["messages"]), tokenize=False)
        images = [np.asarray(Image.open(out / f)) for f in row["images"]]
        jpegs = [np.asarray(Image.open(out / f)) for f in row["videos"][0]]
        clip = _decode(out / row["video_clips"][0])
        for frames in (jpegs, clip):
            metadata = [VideoMetadata(**item["video_metadata"])]
            inputs = processor(text=[text], images=images, videos=[frames], video_metadata=metadata)
            ids = np.asarray(inputs["input_ids"][0])
            assert int((ids == ids_of("<|video_pad|>")).sum()) == row["video_pad_tokens"], row["id"]
            assert int((ids == ids_of("<|image_pad|>")).sum()) == row["image_pad_tokens"] > 0, row["id"]
            assert len(ids) == row["total_tokens"] == row["visual_tokens"] + row["text_tokens"], row["id"]
        assert row["timestamp_tokens"] == item["timestamp_tokens"] > 0
        assert item["timestamps"][0] >= row["segment_start_s"] - 1
    with pytest.raises(ExportError, match=r"tokens\.consumer=qwen-vl-utils --set tokens\.timestamp_origin=clip"):
        export(Store(str(out)), "ms-swift", None)


def test_qwen_vl_utils_reproduces_a_qwen3_runs_clip_timed_samples(ray_head, videos, tokenizer_dir, tmp_path):
    """As ms-swift and Qwen3-VL's own recipe feed the processor: qwen-vl-utils reads each video
    (its frame files, or its mp4) with trainer_args.json's element keys and hands over the
    frames unresized with the metadata it made; pads, timestamps and the total are the stored
    ones, and the ms-swift export lists those frame files."""
    out = tmp_path / "out"
    tokens = {"consumer": "qwen-vl-utils", "family": "qwen3-vl", "timestamp_origin": "clip"}
    run_offline(
        videos[: len(GENERATED) + 1],  # the generated ones and chaplin.mp4
        out,
        output={"media": "both"},
        sample={"include_image": True},
        tokens={**tokens, "tokenizer": str(tokenizer_dir)},
    )
    rows = pq.read_table(out / "dataset").to_pylist()
    block = json.loads((out / "trainer_args.json").read_text())["qwen_vl_utils"]
    processor = _processor(tokenizer_dir, Q3)
    ids_of = processor.tokenizer.convert_tokens_to_ids
    patch = block["image_patch_size"]
    assert len(rows) >= 3
    for row in rows:
        (item,) = [m for m in row["media"] if m["kind"] == "video"]
        text = processor.apply_chat_template(template_messages(row["messages"]), tokenize=False)
        images = [qvu.fetch_image({"image": str(out / f), **block["image"]}, patch) for f in row["images"]]
        for media in ([str(out / f) for f in row["videos"][0]], str(out / row["video_clips"][0])):
            video, metadata = qvu.fetch_video({"video": media, **block["video"]}, patch, return_video_metadata=True)
            inputs = processor(
                text=[text],
                images=images,
                videos=[video],
                video_metadata=[VideoMetadata(**metadata)],
                do_resize=False,
                do_sample_frames=False,
            )
            ids = np.asarray(inputs["input_ids"][0])
            written = re.findall(r"<[0-9.]+ seconds>", processor.tokenizer.decode(ids))
            assert written == [timestamp_text(t) for t in item["timestamps"]], (row["id"], type(media))
            assert int((ids == ids_of("<|video_pad|>")).sum()) == row["video_pad_tokens"], (row["id"], type(media))
            assert int((ids == ids_of("<|image_pad|>")).sum()) == row["image_pad_tokens"], (row["id"], type(media))
            assert len(ids) == row["total_tokens"], (row["id"], type(media))
    exported = Path(export(Store(str(out)), "ms-swift", None)).read_text().splitlines()
    assert [json.loads(line)["videos"][0] for line in exported] == [
        [str(out / f) for f in r["videos"][0]] for r in rows
    ]


def _decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(io.BytesIO(path.read_bytes())) as clip:
        return [f.to_ndarray(format="rgb24") for f in clip.decode(video=0)]
