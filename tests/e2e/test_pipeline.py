"""The whole job on real videos and bad inputs, through Ray: every input accounted for,
samples valid for the trainer, counts equal to what the processor produces."""

import html
import json
import math
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from browser import image_states, rendered_dom
from offline_runs import OFFLINE
from PIL import Image

from cluster.caption.tiny_model import offline_processor
from cluster.progress import SettingsChanged
from cluster.samples import check_conversation
from cluster.video.synth import scene_frames, write_video
from jobs.config import parse_config
from jobs.curate import run
from jobs.export import main as export_main
from schemas.tables import DATASET, ERRORS

TEXT = {"chaplin.mp4": "A silent film scene.", "testvideo.mp4": "A test video with several shots."}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, shared_videos):
    root = tmp_path_factory.mktemp("inputs")
    rows = [{"uri": str(p), "description": TEXT.get(p.name)} for p in sorted(shared_videos.iterdir())]
    (root / "zero.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("not a video at all\n")
    example = (shared_videos / "example.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(example[: len(example) // 3])
    write_video(root / "short.mp4", scene_frames(320, 240, 25, [1.0]), 25)
    write_video(root / "sliver.mp4", scene_frames(804, 2, 25, [3.0]), 25)
    expected = {
        "zero.mp4": ("errored", "probe:ProbeError"),
        "text.mp4": ("errored", "probe:ProbeError"),
        "short.mp4": ("filtered", "too_short"),
        "sliver.mp4": ("filtered", "extreme_aspect_ratio"),
        "missing.mp4": ("errored", "probe:InputUnavailable"),
        "fades.mp4": ("filtered", "blank"),  # one uniform frame fading: no content to train on
        "remote.mp4": ("errored", "probe:InputUnavailable"),
    }
    rows += [
        {"uri": str(root / n)}
        for n in ["zero.mp4", "text.mp4", "truncated.mp4", "short.mp4", "sliver.mp4", "missing.mp4"]
    ]
    rows.append({"uri": f"http://127.0.0.1:{_closed_port()}/remote.mp4", "title": 7})
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest, len(rows), expected


def _config(manifest, out, consumer="llamafactory", **output):
    return parse_config(
        {
            "input": {"manifest": str(manifest)},
            "output": {"root": str(out), "rows_per_shard": 5, "media": "both", **output},
            "split": {"min_seconds": 2.0, "max_seconds": 8.0},
            "tokens": {"consumer": consumer, "family": "qwen2-vl"},
            "sample": {"include_image": True},
            **OFFLINE,
        }
    )


@pytest.fixture(scope="module")
def result(ray_head, inputs, tmp_path_factory):
    manifest, n, expected = inputs
    out = tmp_path_factory.mktemp("run")
    summary = run(_config(manifest, out))
    return out, summary, n, expected


def test_every_input_is_kept_filtered_or_errored(result):
    out, summary, n, _ = result
    v = summary["videos"]
    assert summary["inputs"] == n and summary["balanced"]
    assert v["kept"] + v["filtered"] + v["errored"] == n
    assert v["kept"] >= 6  # every shared video with content yields samples
    assert json.loads((out / "summary.json").read_text()) == summary


def test_bad_inputs_end_with_their_reason(result):
    out, _, _, expected = result
    candidates = pq.read_table(out / "candidates").to_pylist()
    for name, (outcome, reason) in expected.items():
        rows = [r for r in candidates if r["uri"].endswith(name)]
        assert rows, name
        if outcome == "errored":
            assert {f"{r['stage']}:{r['error_type']}" for r in rows} == {reason}, name
        else:
            assert {r["reason"] for r in rows} == {reason}, name
    errors = pq.read_table(out / "errors")
    assert errors.schema.equals(ERRORS)
    assert {Path(u).name for u in errors.column("input").to_pylist()} >= {
        "zero.mp4",
        "text.mp4",
        "missing.mp4",
        "remote.mp4",
    }


def test_dataset_is_valid_sharegpt_with_media_on_disk(result):
    out, summary, _, _ = result
    table = pq.read_table(out / "dataset")
    assert table.schema.equals(DATASET) and table.num_rows == summary["samples"]
    assert len(list((out / "dataset").glob("part-*.parquet"))) == -(-table.num_rows // 5)
    rows = table.to_pylist()
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["user", "assistant"]
        user = row["messages"][0]["content"]
        assert user.count("<video>") == len(row["videos"]) == 1
        assert user.count("<image>") == len(row["images"]) == 1
        video = next(m for m in row["media"] if m["kind"] == "video")
        assert len(row["videos"][0]) == video["frames_used"] == len(video["frame_indices"])
        for rel in row["videos"][0][:2] + row["images"]:
            assert Image.open(out / rel).size[0] > 0
        first = Image.open(out / row["videos"][0][0])
        assert (first.height, first.width) == (video["stored_height"], video["stored_width"])
        assert (out / row["video_clips"][0]).stat().st_size > 0
        assert row["total_tokens"] == sum(m["sequence_tokens"] for m in row["media"])
        assert not any(part in "/".join(row["videos"][0]) for part in ("chaplin", "testvideo"))
    captions = {r["source_uri"].split("/")[-1]: r["caption_status"] for r in rows}
    assert captions["chaplin.mp4"] == "manifest_text" and captions["counter.mp4"] == "not_captioned"


def test_stored_counts_equal_the_trainers_processor(result):
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    out, _, _, _ = result
    # LLaMA-Factory hands the (pre-scaled) frames to the processor with these bounds
    video_proc = Qwen2VLVideoProcessor(min_pixels=56 * 56, max_pixels=16384 * 28 * 28)
    image_proc = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=16384 * 28 * 28)
    for row in pq.read_table(out / "dataset").to_pylist()[:6]:
        frames = np.stack([np.asarray(Image.open(out / p)) for p in row["videos"][0]])
        grid = video_proc(videos=[frames], return_tensors="np")["video_grid_thw"][0]
        image = np.asarray(Image.open(out / row["images"][0]))
        image_grid = image_proc(images=[image], return_tensors="np")["image_grid_thw"][0]
        assert int(np.prod(grid)) // 4 == row["video_pad_tokens"]
        assert int(np.prod(image_grid)) // 4 == row["image_pad_tokens"]


def test_trainer_files_describe_the_dataset(result):
    out, _, _, _ = result
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["vidcurate"]["file_name"] == "dataset" and info["vidcurate"]["formatting"] == "sharegpt"
    args = json.loads((out / "trainer_args.json").read_text())
    assert args["llamafactory"]["video_max_pixels"] == 256 * 256
    assert args["llamafactory"]["cutoff_len"] == max(pq.read_table(out / "dataset").column("total_tokens").to_pylist())
    assert args["text_counted"] is False and "Text is not counted" in args["note"]  # no tokens.tokenizer here


def test_ids_are_stable_across_runs(result, inputs, tmp_path):
    out, _, _, _ = result
    manifest, _, _ = inputs
    again = run(_config(manifest, tmp_path / "again", rows_per_shard=3, media="frames"))
    assert again["samples"] == result[1]["samples"]
    first = sorted(pq.read_table(out / "dataset").column("id").to_pylist())
    assert sorted(pq.read_table(tmp_path / "again" / "dataset").column("id").to_pylist()) == first


def test_max_total_tokens_lowers_fps_then_resolution(ray_head, shared_videos, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "t.mp4").symlink_to(shared_videos / "testvideo.mp4")
    cfg = parse_config(
        {
            "input": {"manifest": str(tmp_path / "in")},
            "output": {"root": str(tmp_path / "out")},
            "split": {"mode": "fixed", "max_seconds": 20.0},
            "tokens": {"consumer": "qwen-vl-utils", "max_total_tokens": 3000},
            **OFFLINE,
        }
    )
    summary = run(cfg)
    rows = pq.read_table(tmp_path / "out" / "dataset").to_pylist()
    assert summary["samples"] == len(rows) > 0
    assert all(r["total_tokens"] <= 3000 for r in rows)
    assert any(r["budget_adjustment"] and "fps" in r["budget_adjustment"] for r in rows)


def test_each_pass_runs_as_its_own_ray_job_submit(ray_head, shared_videos, tmp_path):
    """segment, select and materialize submitted one after another with `ray job submit`
    account for every input and write the report, as the whole job does in one."""
    repo = Path(__file__).resolve().parents[2]
    config = tmp_path / "job.yaml"  # JSON is YAML
    config.write_text(
        json.dumps(
            {
                "input": {"manifest": f"{shared_videos}/c*.mp4"},
                "output": {"root": str(tmp_path / "out")},
                "split": {"max_seconds": 10},
                **OFFLINE,
            }
        )
    )
    ray_cli = str(Path(__import__("sys").executable).with_name("ray"))
    submit = [
        ray_cli,
        "job",
        "submit",
        "--address",
        ray_head["dashboard"],
        "--working-dir",
        str(repo),
        "--runtime-env",
        str(repo / "infra" / "runtime_env.yaml"),
        "--",
        "python",
        "-m",
    ]
    for entry in ("jobs.segment", "jobs.select", "jobs.materialize"):
        job = subprocess.run(
            [*submit, entry, "--config", str(config)],
            check=False,
            capture_output=True,
            text=True,
            env=ray_head["env"],
            timeout=300,
        )
        assert job.returncode == 0, entry + job.stdout[-3000:] + job.stderr[-3000:]
        assert "succeeded" in job.stdout + job.stderr, entry
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["inputs"] == 2 and summary["balanced"] and summary["samples"] >= 2
    assert set(summary["timings_s"]) == {"materialize"}
    assert (tmp_path / "out" / "report" / "index.html").is_file()


def test_the_report_shows_the_run_and_loads_every_image_in_a_browser(result):
    out, summary, _, _ = result
    dom = rendered_dom(out / "report" / "index.html")
    states = image_states(dom)
    plots = {
        "funnel.png",
        "duration.png",
        "display_aspect_ratio.png",
        "aesthetic.png",
        "clip_similarity.png",
        "tokens.png",
        "cluster_sizes.png",
    }
    assert plots <= set(states)
    gallery = [src for src in states if src.startswith("gallery/")]
    assert len(gallery) == min(24, summary["samples"])
    assert set(states.values()) == {"loaded"}, states

    assert "Every input is accounted for" in dom
    assert "they carry no meaning" in dom  # this run scores with random weights, and says so
    counts = dict(re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td></tr>", dom))
    assert int(counts["inputs"]) == summary["inputs"] and int(counts["samples"]) == summary["samples"]
    assert int(counts["segments with samples"]) == summary["segments"]["kept"]
    samples = {
        r["id"]: r for r in pq.read_table(out / "dataset", columns=["id", "messages", "total_tokens"]).to_pylist()
    }
    tokens = sorted(r["total_tokens"] for r in samples.values())
    assert int(counts["100%"]) == tokens[-1]  # cutoff_len that fits every sample
    assert int(counts["99%"]) == tokens[math.ceil(0.99 * len(tokens)) - 1]
    text = html.unescape(dom)
    for src in gallery:  # each tile shows the answer its sample teaches
        answer = next(m["content"] for m in samples[Path(src).stem]["messages"] if m["role"] == "assistant")
        assert answer in text


def test_the_vidcurate_command_rewrites_the_report_of_a_finished_run(result, tmp_path):
    out, _, _, _ = result
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "report")
    vidcurate = str(Path(sys.executable).with_name("vidcurate"))  # the installed console script
    done = subprocess.run(
        [vidcurate, "report", "--root", str(copy)], check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "report written to" in done.stdout
    states = image_states(rendered_dom(copy / "report" / "index.html"))
    assert len(states) > 8 and set(states.values()) == {"loaded"}, states


def test_a_report_missing_a_plot_shows_it_missing(result, tmp_path):
    out, _, _, _ = result
    copy = tmp_path / "report"
    shutil.copytree(out / "report", copy)
    (copy / "funnel.png").unlink()
    states = image_states(rendered_dom(copy / "index.html"))
    assert states.pop("funnel.png") == "missing" and set(states.values()) == {"loaded"}


def test_llamafactory_export_lists_every_sample_with_media_on_disk(result, tmp_path):
    out, summary, _, _ = result
    assert export_main(["--root", str(out), "--format", "llamafactory", "--out", str(tmp_path / "lf")]) == 0
    entries = [json.loads(line) for line in (tmp_path / "lf" / "vidcurate.jsonl").read_text().splitlines()]
    assert len(entries) == summary["samples"]
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    assert info["vidcurate"]["file_name"] == "vidcurate.jsonl" and info["vidcurate"]["columns"]["images"] == "images"
    for entry in entries:
        check_conversation(entry["messages"], videos=len(entry["videos"]), images=len(entry["images"]))
        assert all(Path(p).is_file() for frames in entry["videos"] for p in frames)
        assert all(Path(p).is_file() for p in entry["images"])


def _qwen_vl_finetune_processor(block: dict):
    """The Qwen2-VL processor as qwen-vl-finetune's data_processor.py configures it from its
    arguments (update_processor_pixels), here trainer_args.json's block as written."""
    processor = offline_processor("qwen2-vl")
    image, video = processor.image_processor, processor.video_processor
    image.min_pixels, image.max_pixels = block["min_pixels"], block["max_pixels"]
    image.size = {"shortest_edge": block["min_pixels"], "longest_edge": block["max_pixels"]}
    video.min_frames, video.max_frames = block["video_min_frames"], block["video_max_frames"]
    video.fps = block["video_fps"]
    video.size = {"shortest_edge": block["video_min_pixels"], "longest_edge": block["video_max_pixels"]}
    return processor


def _qwen_vl_finetune_input_ids(processor, entry: dict) -> list[int]:
    """An exported entry as qwen-vl-finetune builds it: its media in place of the placeholders,
    the mp4 read whole (decoded with PyAV here; it decodes with torchcodec)."""
    media = {"<image>": [{"type": "image"}] if entry.get("image") else [], "<video>": [{"type": "video"}]}
    messages = []
    for turn in entry["conversations"]:
        parts = [p.strip() for p in re.split(r"(<image>|<video>)", turn["value"]) if p.strip()]
        content = [media[p].pop(0) if p in media else {"type": "text", "text": p} for p in parts]
        messages.append({"role": "user" if turn["from"] == "human" else "assistant", "content": content})
    with av.open(entry["video"]) as clip:
        frames = [frame.to_ndarray(format="rgb24") for frame in clip.decode(video=0)]
    images = [Image.open(entry["image"])] if entry.get("image") else None
    text = processor.apply_chat_template(messages, tokenize=False)
    return list(processor(text=[text], images=images, videos=[frames])["input_ids"][0])


def test_an_export_for_another_trainer_is_refused_until_its_counts_are_made(result, tmp_path, capsys):
    """Counts are exact per trainer: qwen-vl-finetune needs its own profile. Rerunning with
    that consumer replaces the dataset only when asked to, redoes pass 3 only, and then the
    export carries its num_tokens, and the trainer's processor, configured from
    trainer_args.json as qwen-vl-finetune configures it, builds the stored pads."""
    out, _, _, _ = result
    assert export_main(["--root", str(out), "--format", "qwen-vl-finetune", "--out", str(tmp_path / "q")]) == 2
    assert "--set tokens.consumer=qwen-vl-finetune --replace" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    manifest = yaml.safe_load((copy / "config.yaml").read_text())["input"]["manifest"]
    with pytest.raises(SettingsChanged, match=r"tokens\.consumer: 'llamafactory' -> 'qwen-vl-finetune'"):
        run(_config(manifest, copy, consumer="qwen-vl-finetune"))
    rerun = run(_config(manifest, copy, consumer="qwen-vl-finetune", replace=True))
    assert rerun["chunks"]["segment"]["run"] == 0 and rerun["chunks"]["materialize"]["run"] > 0
    assert export_main(["--root", str(copy), "--format", "qwen-vl-finetune", "--out", str(tmp_path / "q")]) == 0
    entries = json.loads((tmp_path / "q" / "vidcurate_qwen_vl_finetune.json").read_text())
    samples = {r["id"]: r for r in pq.read_table(copy / "dataset").to_pylist()}
    assert len(entries) == len(samples) == rerun["samples"]
    block = json.loads((copy / "trainer_args.json").read_text())["qwen_vl_finetune"]
    assert block["model_max_length"] == max(s["total_tokens"] for s in samples.values())
    processor = _qwen_vl_finetune_processor(block)
    pad = processor.tokenizer.convert_tokens_to_ids
    for entry in entries:
        sample = samples[entry["id"]]
        assert entry["num_tokens"] == sample["total_tokens"]
        assert sample["token_profile"].startswith("qwen-vl-finetune:")
        assert [t["from"] for t in entry["conversations"]] == ["human", "gpt"]
        assert Path(entry["video"]).is_file() and entry["conversations"][0]["value"].count("<video>") == 1
        ids = _qwen_vl_finetune_input_ids(processor, entry)
        assert ids.count(pad("<|video_pad|>")) == sample["video_pad_tokens"], entry["id"]
        assert ids.count(pad("<|image_pad|>")) == sample["image_pad_tokens"], entry["id"]
    # the first profile's media went with its samples: media/ holds exactly what samples use
    used = {
        Path(p)
        for r in samples.values()
        for p in [*(f for v in r["videos"] for f in v), *r["video_clips"], *r["images"]]
    }
    on_disk = {f.relative_to(copy) for f in (copy / "media").rglob("*") if f.is_file()}
    assert on_disk == used
