"""Configuration and manifest errors are caught before any work, and name the culprit."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cluster.manifest import ManifestError, read_manifest
from jobs.config import Config, ConfigError, load_config, parse_config
from jobs.curate import main
from schemas.digest import outside

BASE = {"input": {"manifest": "x"}, "output": {"root": "o"}}


@pytest.mark.parametrize(
    "change,message",
    [
        ({"output": {"root": "o", "rows_per_shrd": 3}}, "unknown key 'output.rows_per_shrd'"),
        ({"split": {"mode": "shots"}}, "'split.mode'"),
        ({"split": {"min_seconds": 9, "max_seconds": 3}}, "min_seconds"),
        ({"tokens": {"consumer": "llava"}}, "'tokens.consumer'"),
        ({"input": {}}, "missing required key 'input.manifest'"),
        ({"tokens": {"family": "qwen3-vl", "tokenizer": "t"}}, "qwen2-vl and qwen2.5-vl only"),
    ],
)
def test_bad_config_names_the_key(change, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config({**BASE, **change})


def test_example_config_is_valid():
    assert load_config("jobs/configs/example.yaml").tokens.consumer == "llamafactory"


def test_cli_reports_a_config_error_without_starting_work(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("input: {manifest: x}\noutput: {root: o}\nsplitt: {}\n")
    assert main(["--config", str(path)]) == 2
    assert "unknown key 'splitt'" in capsys.readouterr().err


def test_a_tokenizer_that_cannot_load_stops_the_run_before_any_work(tmp_path, capsys):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"x")
    (tmp_path / "not_a_tokenizer").mkdir()
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "input": {"manifest": str(tmp_path / "videos")},
                "output": {"root": str(tmp_path / "out")},
                "tokens": {"tokenizer": str(tmp_path / "not_a_tokenizer")},
                "scoring": {"preset": "random"},
            }
        )
    )
    assert main(["--config", str(path)]) == 2
    assert "tokens.tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_manifest_from_folder_glob_jsonl_and_parquet(tmp_path):
    for name in ["b.mp4", "a.webm", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert [r["uri"] for r in read_manifest(str(tmp_path))] == [str(tmp_path / "a.webm"), str(tmp_path / "b.mp4")]
    assert [r["uri"] for r in read_manifest(str(tmp_path / "*.mp4"))] == [str(tmp_path / "b.mp4")]
    (tmp_path / "m.jsonl").write_text(json.dumps({"uri": "b.mp4", "title": "T", "description": 3}) + "\n")
    (row,) = read_manifest(str(tmp_path / "m.jsonl"))
    assert row == {"uri": str(tmp_path / "b.mp4"), "title": "T", "description": None, "transcript": None}
    pq.write_table(pa.table({"uri": ["s3://bucket/v.mp4"], "transcript": ["hi"]}), tmp_path / "m.parquet")
    assert read_manifest(str(tmp_path / "m.parquet"))[0]["uri"] == "s3://bucket/v.mp4"


def test_manifest_problems_are_errors(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(str(tmp_path / "nope"))
    (tmp_path / "m.jsonl").write_text('{"path": "a.mp4"}\n')
    with pytest.raises(ManifestError, match="row 0: needs a non-empty string `uri`"):
        read_manifest(str(tmp_path / "m.jsonl"))


def test_only_fields_that_say_why_are_left_out_of_the_config_digest():
    """Config.digest decides which passes a rerun redoes: a new field is in it unless its
    definition marks it outside, with a reason, and this list changes with it."""
    assert outside(Config) == [
        "input.chunk_size",
        "output.root",
        "output.storage_options",
        "output.shared_mount",
        "scoring.batch_size",
        "scoring.actors",
        "scoring.cpus_per_actor",
        "filters",
        "dedup",
        "caption.allow_cpu_fallback",
        "caption.replicas",
        "caption.gpus_per_replica",
        "caption.cpus_per_replica",
        "caption.batch_size",
        "caption.openai",
        "caption.vllm",
        "decoder",
        "errors",
        "ray",
    ]
    base = {"input": {"manifest": "videos/"}, "output": {"root": "/data/out"}}
    digest = parse_config(base).digest()
    moved = parse_config(
        {**base, "output": {"root": "s3://elsewhere/out"}, "scoring": {"actors": 8}, "ray": {"num_cpus": 4}}
    )
    assert moved.digest() == digest
    assert parse_config({**base, "split": {"detector": "transnetv2"}}).digest() != digest
    assert parse_config({**base, "caption": {"batch_timeout_s": 60}}).digest() != digest
