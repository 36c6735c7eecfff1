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


def is_remote(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return len(scheme) > 1 and scheme != "file"


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
