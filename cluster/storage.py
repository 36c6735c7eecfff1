"""Naming inputs and outputs: a URI's scheme, whether it is remote, its local path; and the
two ways reading an input fails that belong to the input (see cluster/sources.py)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse


class InputUnavailable(OSError):
    """The input cannot be read: missing, unreadable, too large, or its remote store refused."""


class InputChanged(RuntimeError):
    """The input's bytes changed after it was probed; its segments no longer describe it."""


@dataclass(frozen=True)
class RemoteLimits:
    """Bounds on reading one remote input (input.remote)."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_bytes: int = 64 << 30
    fetch_timeout_s: float = 1800.0  # the whole fetch, enforced by the decoder guard
    cache_bytes: int = 8 << 30  # fetched inputs kept per worker process


def scheme_of(uri: str) -> str:
    """The URI's scheme, lower-cased: "file" for a local path ("C:" is a drive, not a scheme)."""
    scheme = urlparse(uri).scheme.lower()
    return scheme if len(scheme) > 1 else "file"


def is_remote(uri: str) -> bool:
    return scheme_of(uri) != "file"


def local_path(uri: str) -> str:
    return urlparse(uri).path if uri.startswith("file://") else uri
