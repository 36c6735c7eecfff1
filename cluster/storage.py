"""One way to reach input files, local or remote (s3://, gs://, http(s)://, ...).

Decoders need a seekable local file; remote objects are streamed to a temporary file in
chunks (never read whole into memory) and removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

import fsspec

CHUNK = 8 << 20


class InputUnavailable(OSError):
    """The input cannot be read: missing, unreadable, or its remote store refused."""


class InputChanged(RuntimeError):
    """The input's bytes changed after it was probed; its segments no longer describe it."""


def fingerprint(uri: str) -> str:
    """Size and modification time (or the store's ETag): changes when the content does."""
    try:
        if not is_remote(uri):
            st = os.stat(local_path(uri))
            return f"{st.st_size}:{st.st_mtime_ns}"
        fs, path = fsspec.core.url_to_fs(uri)
        info = fs.info(path)
    except (OSError, ValueError) as exc:
        raise InputUnavailable(f"{uri}: cannot stat ({type(exc).__name__}: {exc})") from exc
    return f"{info.get('size')}:{info.get('ETag') or info.get('etag') or info.get('mtime') or info.get('LastModified')}"


def check_unchanged(uri: str, probed: str | None) -> None:
    now = fingerprint(uri)
    if probed and now != probed:
        raise InputChanged(
            f"{uri} changed since it was probed (size:mtime {probed} -> {now}); "
            "rerun into a new output root to re-probe it"
        )


def scheme_of(uri: str) -> str:
    """The URI's scheme, lower-cased: "file" for a local path ("C:" is a drive, not a scheme)."""
    scheme = urlparse(uri).scheme.lower()
    return scheme if len(scheme) > 1 else "file"


def is_remote(uri: str) -> bool:
    return scheme_of(uri) != "file"


def local_path(uri: str) -> str:
    return urlparse(uri).path if uri.startswith("file://") else uri


@contextmanager
def local_copy(uri: str) -> Iterator[str]:
    """Yield a local path holding the bytes of `uri`."""
    if not is_remote(uri):
        path = local_path(uri)
        if not os.path.isfile(path):
            raise InputUnavailable(f"{uri}: no such file (check the manifest path and that the volume is mounted)")
        yield path
        return
    suffix = os.path.splitext(urlparse(uri).path)[1]
    fd, tmp = tempfile.mkstemp(prefix="vidcurate-", suffix=suffix)
    try:
        try:
            with fsspec.open(uri, "rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
        except Exception as exc:
            raise InputUnavailable(f"{uri}: cannot read remote object ({type(exc).__name__}: {exc})") from exc
        yield tmp
    finally:
        os.unlink(tmp)
