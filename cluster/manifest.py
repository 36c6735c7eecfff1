"""Read the list of inputs: a folder, a glob, or a JSONL/Parquet table with a `uri` column."""

from __future__ import annotations

import json
import posixpath
from urllib.parse import urlparse

import fsspec
import pyarrow.parquet as pq

from schemas.tables import TEXT_FIELDS

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp")


class ManifestError(ValueError):
    """The manifest itself cannot be read; nothing was started."""


def read_manifest(spec: str) -> list[dict]:
    """Rows of {uri, title, description, transcript}, in a stable order."""
    fs, root = fsspec.core.url_to_fs(spec)
    protocol = _protocol_prefix(spec)
    if any(ch in spec for ch in "*?["):
        return [_row(protocol + p) for p in sorted(fs.glob(root)) if p.lower().endswith(VIDEO_EXTENSIONS)]
    if not fs.exists(root):
        raise ManifestError(f"manifest {spec} does not exist: give a folder, a glob, or a .jsonl/.parquet file")
    if fs.isdir(root):
        files = sorted(p for p in fs.find(root) if p.lower().endswith(VIDEO_EXTENSIONS))
        return [_row(protocol + p) for p in files]
    if root.endswith(".jsonl"):
        records = _read_jsonl(fs, root, spec)
    elif root.endswith(".parquet"):
        with fs.open(root, "rb") as f:
            records = pq.read_table(f).to_pylist()
    else:
        raise ManifestError(f"manifest {spec}: expected a folder, a glob, or a .jsonl/.parquet file")
    base = protocol + posixpath.dirname(root)
    return [_table_row(r, i, spec, base) for i, r in enumerate(records)]


def _read_jsonl(fs, root: str, spec: str) -> list[dict]:
    records = []
    with fs.open(root, "rt") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"manifest {spec} line {number}: not JSON ({exc})") from None
    return records


def _table_row(record: dict, index: int, spec: str, base: str) -> dict:
    uri = record.get("uri") if isinstance(record, dict) else None
    if not isinstance(uri, str) or not uri.strip():
        raise ManifestError(f"manifest {spec} row {index}: needs a non-empty string `uri` column")
    uri = uri.strip()
    if not urlparse(uri).scheme and not posixpath.isabs(uri):
        uri = posixpath.join(base, uri)
    return _row(uri, record)


def _row(uri: str, record: dict | None = None) -> dict:
    record = record or {}
    return {"uri": uri, **{k: record.get(k) if isinstance(record.get(k), str) else None for k in TEXT_FIELDS}}


def _protocol_prefix(spec: str) -> str:
    scheme = urlparse(spec).scheme
    return f"{scheme}://" if len(scheme) > 1 and scheme != "file" else ""
