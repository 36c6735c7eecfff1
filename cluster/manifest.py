"""Read the list of inputs: a folder, a glob, or a JSONL/Parquet table with a `uri` column.

A path that exists is read as what it is (a folder named `vids[2024]` is a folder); only a
path that does not exist is tried as a glob. A folder or glob listing leaves out the run's
own output root, so a run never ingests what it wrote. Texts longer than the cap are cut,
and the row names the fields that were. A string that cannot be stored as UTF-8 (a file
name in another encoding) is kept escaped, and the row carries the problem, so admission
refuses it with that reason instead of the run failing.
"""

from __future__ import annotations

import json
import logging
import posixpath
from urllib.parse import urlparse

import fsspec
import pyarrow.parquet as pq

from cluster.admission import location, within
from cluster.usage import UsageError
from schemas.tables import TEXT_FIELDS

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp")


class ManifestError(UsageError):
    """The manifest itself cannot be read; nothing was started."""


def read_manifest(spec: str, output_root: str | None = None, max_text_chars: int | None = None) -> list[dict]:
    """Rows of {uri, title, description, transcript, text_truncated, problem}, in a stable
    order. A listing (folder or glob) skips everything under `output_root`."""
    fs, root = fsspec.core.url_to_fs(spec)
    protocol = _protocol_prefix(spec)
    if fs.exists(root) and fs.isdir(root):
        uris = [protocol + p for p in _videos_under(fs, root, protocol, output_root)]
    elif fs.exists(root):
        return _table_rows(fs, root, spec, protocol, max_text_chars)
    elif any(ch in spec for ch in "*?["):
        uris = [protocol + p for p in sorted(fs.glob(root)) if p.lower().endswith(VIDEO_EXTENSIONS)]
    else:
        raise ManifestError(f"manifest {spec} does not exist: give a folder, a glob, or a .jsonl/.parquet file")
    if output_root is not None:
        inside = [u for u in uris if _under(u, output_root)]
        if inside:
            log.warning("manifest %s: %d files under output.root %s left out", spec, len(inside), output_root)
        uris = [u for u in uris if u not in set(inside)]
    return [_row(uri, {}, max_text_chars) for uri in uris]


def _videos_under(fs, root: str, protocol: str, output_root: str | None) -> list[str]:
    found: list[str] = []
    for top, folders, files in fs.walk(root, topdown=True):
        if output_root is not None:  # do not even list the output root's media
            folders[:] = [f for f in folders if not _under(protocol + posixpath.join(top, f), output_root)]
        found.extend(posixpath.join(top, f) for f in files if f.lower().endswith(VIDEO_EXTENSIONS))
    return sorted(found)


def _under(uri: str, output_root: str) -> bool:
    try:
        return within(location(uri), location(output_root))
    except ValueError:  # a name that cannot even be located is refused at admission
        return False


def _table_rows(fs, root: str, spec: str, protocol: str, max_text_chars: int | None) -> list[dict]:
    if root.endswith(".jsonl"):
        records = _read_jsonl(fs, root, spec)
    elif root.endswith(".parquet"):
        with fs.open(root, "rb") as f:
            records = pq.read_table(f).to_pylist()
    else:
        raise ManifestError(f"manifest {spec}: expected a folder, a glob, or a .jsonl/.parquet file")
    base = protocol + posixpath.dirname(root)
    return [_table_row(r, i, spec, base, max_text_chars) for i, r in enumerate(records)]


def _read_jsonl(fs, root: str, spec: str) -> list[dict]:
    records = []
    with fs.open(root, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ManifestError(f"manifest {spec} line {number} is not UTF-8 ({exc}); save it as UTF-8") from None
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"manifest {spec} line {number}: not JSON ({exc})") from None
    return records


def _table_row(record: dict, index: int, spec: str, base: str, max_text_chars: int | None) -> dict:
    uri = record.get("uri") if isinstance(record, dict) else None
    if not isinstance(uri, str) or not uri.strip():
        raise ManifestError(f"manifest {spec} row {index}: needs a non-empty string `uri` column")
    uri = uri.strip()
    if not urlparse(uri).scheme and not posixpath.isabs(uri):
        uri = posixpath.join(base, uri)
    return _row(uri, record, max_text_chars)


def _row(uri: str, record: dict, max_text_chars: int | None) -> dict:
    row: dict = {"uri": _storable(uri), "text_truncated": [], "problem": None}
    if row["uri"] != uri:
        row["problem"] = "its name is not valid UTF-8 (shown escaped); rename the file or fix the manifest entry"
    for name in TEXT_FIELDS:
        value = record.get(name)
        text = _storable(value) if isinstance(value, str) else None
        if text is not None and max_text_chars is not None and len(text) > max_text_chars:
            text = text[:max_text_chars]
            row["text_truncated"].append(name)
        row[name] = text
    return row


def _storable(text: str) -> str:
    """`text`, with what UTF-8 cannot hold (lone surrogates from an undecodable file name
    or a JSON escape) written as backslash escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _protocol_prefix(spec: str) -> str:
    scheme = urlparse(spec).scheme
    return f"{scheme}://" if len(scheme) > 1 and scheme != "file" else ""
