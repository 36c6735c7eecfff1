"""The output storage layer on a local folder and on an S3-compatible store: atomic writes,
chunk commits whose markers list their files, and a clear error for a store that cannot be
used."""

import pyarrow as pa
import pytest

from cluster.progress import ChunkLedger, SettingsChanged, committed_files, record_step, step_files
from cluster.store import Store, StoreError

SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int64())])


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return Store(str(tmp_path / "root"))
    s3 = request.getfixturevalue("s3")
    return Store(f"{s3['bucket']('units')}/{tmp_path.name}", s3["options"])


def test_writes_are_read_back_listed_and_deleted(store):
    store.write_json("a/b.json", {"x": 1})
    store.write_bytes("a/c/d.bin", b"\x00\x01")
    assert store.read_json("a/b.json") == {"x": 1} and store.read_bytes("a/c/d.bin") == b"\x00\x01"
    assert store.files("a") == ["a/b.json", "a/c/d.bin"] and store.files("a", ".json") == ["a/b.json"]
    assert store.files("missing") == []
    store.delete(["a/b.json"])
    assert not store.exists("a/b.json") and store.files("a") == ["a/c/d.bin"]
    store.delete(["a/c/d.bin"])
    assert not store.exists("a"), "no empty folders are left behind"
    store.write_bytes("t/u/v.bin", b"")
    store.delete_tree("t")
    assert store.files("t") == [] and not store.exists("t")


def test_a_write_that_fails_leaves_nothing_behind(store):
    with pytest.raises(RuntimeError), store.open_write("x/half.bin") as f:
        f.write(b"partial")
        raise RuntimeError("killed mid-write")
    assert store.files("x") == []


def test_a_store_pickles_as_its_root_and_reaches_the_same_objects(store):
    import pickle

    store.write_text("p.txt", "same")
    again = pickle.loads(pickle.dumps(store))
    assert again.read_text("p.txt") == "same" and again.uri("p.txt") == store.uri("p.txt")


def _write_chunk(ledger: ChunkLedger, chunk: int, ids: list[str], commit: bool) -> list[str]:
    writer = ledger.writer(chunk, "table", SCHEMA, rows_per_shard=2)
    for i in ids:
        writer.add({"id": i, "n": chunk})
    writer.close()
    if commit:
        ledger.commit(chunk, ids, {"rows": len(ids)})
    return writer.files


def test_only_files_a_marker_lists_are_read_and_a_rerun_deletes_the_rest(store):
    ledger = ChunkLedger(store, "pass", {"threshold": 1}, ("table",))
    assert ledger.committed({0: ["a", "b", "c"], 1: ["d"]}) == {}
    kept = _write_chunk(ledger, 0, ["a", "b", "c"], commit=True)
    orphans = _write_chunk(ledger, 1, ["d"], commit=False)  # the attempt is killed before its marker
    assert len(kept) == 2 and store.read_json("_progress/pass/c00000.json")["files"] == kept
    assert committed_files(store, "pass", "table") == kept
    rows = store.dataset(committed_files(store, "pass", "table"), SCHEMA).to_table().column("id").to_pylist()
    assert sorted(rows) == ["a", "b", "c"]

    rerun = ChunkLedger(store, "pass", {"threshold": 1}, ("table",))
    assert rerun.committed({0: ["a", "b", "c"], 1: ["d"]}) == {0: {"rows": 3}}
    assert store.files("table") == kept and not set(orphans) & set(store.files("table"))
    redone = _write_chunk(rerun, 1, ["d"], commit=True)
    assert redone != orphans, "every attempt writes under names of its own"
    assert committed_files(store, "pass", "table") == sorted(kept + redone)


def test_chunks_of_other_settings_are_replaced_only_when_the_run_may(store):
    ledger = ChunkLedger(store, "pass", {"tokens": {"consumer": "llamafactory"}}, ("table",))
    ledger.committed({0: ["a"]})
    kept = _write_chunk(ledger, 0, ["a"], commit=True)
    changed = {"tokens": {"consumer": "qwen-vl-utils"}}
    with pytest.raises(SettingsChanged, match=r"tokens.consumer: 'llamafactory' -> 'qwen-vl-utils'.*--replace"):
        ChunkLedger(store, "pass", changed, ("table",)).committed({0: ["a"]})
    assert store.files("table") == kept, "a refused run removes nothing"
    assert ChunkLedger(store, "pass", changed, ("table",), replace=True).committed({0: ["a"]}) == {}
    assert store.files("table") == [] and store.files("_progress/pass") == []


def test_a_step_marker_switches_to_the_new_files_then_removes_the_old(store):
    store.write_bytes("selection/part-old-00000.parquet", b"old")
    record_step(store, "select", "d1", "selection", ["selection/part-new-00000.parquet"])
    assert step_files(store, "select") == ["selection/part-new-00000.parquet"]
    assert store.files("selection") == []  # the old shard is gone; the new one was never written here


def test_a_store_that_cannot_be_written_stops_the_run_naming_the_root_and_keys(s3, tmp_path):
    with pytest.raises(StoreError, match=r"s3://no-such-bucket/run.*output.storage_options"):
        Store("s3://no-such-bucket/run", s3["options"]).check_writable()
    unreachable = {**s3["options"], "endpoint_url": "http://127.0.0.1:1"}
    with pytest.raises(StoreError, match="endpoint_url"):
        Store(f"{s3['bucket']('reachable')}/run", unreachable).check_writable()
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(StoreError, match=r"output.root"):
        Store(str(blocker / "run")).check_writable()
    with pytest.raises(StoreError, match=r"output.root is empty"):
        Store("")
