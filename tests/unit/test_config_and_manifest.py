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
        ({"tokens": {"family": "qwen3-vl"}}, "set tokens.timestamp_origin: clip to count the clip-relative times"),
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
    assert row == {
        "uri": str(tmp_path / "b.mp4"),
        "title": "T",
        "description": None,
        "transcript": None,
        "text_truncated": [],
        "problem": None,
    }
    pq.write_table(pa.table({"uri": ["s3://bucket/v.mp4"], "transcript": ["hi"]}), tmp_path / "m.parquet")
    assert read_manifest(str(tmp_path / "m.parquet"))[0]["uri"] == "s3://bucket/v.mp4"


def test_manifest_problems_are_errors(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(str(tmp_path / "nope"))
    (tmp_path / "m.jsonl").write_text('{"path": "a.mp4"}\n')
    with pytest.raises(ManifestError, match="row 0: needs a non-empty string `uri`"):
        read_manifest(str(tmp_path / "m.jsonl"))
    (tmp_path / "latin1.jsonl").write_bytes(b'{"uri": "a.mp4"}\n{"uri": "caf\xe9.mp4"}\n')
    with pytest.raises(ManifestError, match="line 2 is not UTF-8"):
        read_manifest(str(tmp_path / "latin1.jsonl"))


def test_a_path_that_exists_is_never_read_as_a_glob(tmp_path):
    folder = tmp_path / "vids[2024]"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(b"x")
    assert [r["uri"] for r in read_manifest(str(folder))] == [str(folder / "a.mp4")]


def test_a_listing_leaves_out_the_output_root_and_a_table_keeps_what_it_names(tmp_path):
    (tmp_path / "videos" / "out" / "media").mkdir(parents=True)
    (tmp_path / "videos" / "a.mp4").write_bytes(b"x")
    (tmp_path / "videos" / "out" / "media" / "clip.mp4").write_bytes(b"x")
    out = str(tmp_path / "videos" / "out")
    assert [r["uri"] for r in read_manifest(str(tmp_path / "videos"), out)] == [str(tmp_path / "videos" / "a.mp4")]
    assert [r["uri"] for r in read_manifest(str(tmp_path / "videos" / "**" / "*.mp4"), out)] == [
        str(tmp_path / "videos" / "a.mp4")
    ]
    (tmp_path / "m.jsonl").write_text(json.dumps({"uri": f"{out}/media/clip.mp4"}) + "\n")
    assert len(read_manifest(str(tmp_path / "m.jsonl"), out)) == 1  # refused at admission, as a row


def test_long_texts_are_cut_and_marked_and_undecodable_names_are_kept_escaped(tmp_path):
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"uri": "a.mp4", "title": "t" * 50, "description": "short"})
        + "\n"
        + json.dumps({"uri": "b\udcff.mp4", "title": "\ud800"})
        + "\n"
    )
    first, second = read_manifest(str(tmp_path / "m.jsonl"), max_text_chars=10)
    assert first["title"] == "t" * 10 and first["description"] == "short" and first["text_truncated"] == ["title"]
    assert second["uri"] == str(tmp_path / "b\\udcff.mp4") and "not valid UTF-8" in second["problem"]
    assert second["title"] == "\\ud800"
    second["uri"].encode("utf-8")  # storable in Parquet


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"input.manifest.x": 1}, "'input.manifest' is a value, not a section"),
        ({"output.root": " "}, "output.root is blank"),
        ({"input.allowed_roots": []}, "an empty list admits no input"),
        ({"input.allowed_roots": [""]}, "a blank entry in input.allowed_roots"),
        ({"input.allowed_roots": ["/a\x00b"]}, "cannot be used"),
    ],
)
def test_every_config_error_exits_2_naming_the_key(tmp_path, capsys, overrides, message):
    path = tmp_path / "c.yaml"
    path.write_text("input: {manifest: x}\noutput: {root: o}\n")
    pairs = [f"--set={k}={json.dumps(v)}" for k, v in overrides.items()]
    assert main(["--config", str(path), *pairs]) == 2
    assert message in capsys.readouterr().err


def test_a_config_that_is_not_a_mapping_or_not_utf8_exits_2(tmp_path, capsys):
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert main(["--config", str(tmp_path / "list.yaml")]) == 2
    assert "expected a mapping of sections" in capsys.readouterr().err
    (tmp_path / "latin1.yaml").write_bytes(b"input: {manifest: caf\xe9}\n")
    assert main(["--config", str(tmp_path / "latin1.yaml")]) == 2
    assert "cannot read config" in capsys.readouterr().err


def test_only_fields_that_say_why_are_left_out_of_the_config_digest():
    """Config.digest decides which passes a rerun redoes: a new field is in it unless its
    definition marks it outside, with a reason, and this list changes with it."""
    assert outside(Config) == [
        "input.chunk_size",
        "input.remote",
        "output.root",
        "output.storage_options",
        "output.shared_mount",
        "output.lease_ttl_s",
        "output.replace",
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
