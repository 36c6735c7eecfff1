"""Which manifest entries may be read: allowed schemes and roots, no path escapes, never the
run's own output, and each file once. Runs on the driver; an entry refused here still ends
as a row with its reason. Workers check again when they open a file (cluster/sources.py).

Every check is made on the entry's canonical location: the bytes the reader will request,
not the name as written. A local path is resolved (symlinks, `//`, `/./`); an http(s) URL is
normalised exactly as the HTTP client does it (yarl: percent-decoding of unreserved
characters, then dot segments, so `/public/%2e%2e/x.mp4` is `/x.mp4`), and the client is
then handed that normalised URL; an object-store URI is the bucket and key the filesystem
will request. A `..` segment, percent-encoded or not, is always refused.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import unquote, urlsplit

import fsspec
import yarl

from cluster.storage import local_path, scheme_of

# stat calls in flight when identifying local inputs (a network mount answers each slowly)
STAT_THREADS = 32


class ForbiddenInput(ValueError):
    """The manifest names something outside what the config allows to be read."""


@dataclass(frozen=True)
class InputPolicy:
    allowed_schemes: tuple[str, ...]
    allowed_roots: tuple[str, ...] | None  # None: anywhere the scheme allows
    output_root: str | None = None  # the run's own output: never an input

    @cached_property
    def root_locations(self) -> tuple[str, ...] | None:
        return None if self.allowed_roots is None else tuple(location(r) for r in self.allowed_roots)

    @cached_property
    def output_location(self) -> str | None:
        return None if self.output_root is None else location(self.output_root)


def location(uri: str) -> str:
    """The canonical location of `uri`: what the reader opens. Raises ValueError when it
    cannot be worked out (a NUL byte, a malformed URL), ImportError when the store's
    filesystem is not installed."""
    scheme = scheme_of(uri)
    if scheme == "file":
        return os.path.realpath(local_path(uri))
    if scheme in ("http", "https"):
        # what fsspec's HTTP filesystem hands aiohttp (yarl.URL(url, encoded=False))
        return str(yarl.URL(uri, encoded=False))
    stripped = fsspec.get_filesystem_class(scheme)._strip_protocol(uri)
    return f"{scheme}://{stripped}"


def within(where: str, root: str) -> bool:
    return where == root or where.startswith(root.rstrip("/") + "/")


def check_uri(uri: str, policy: InputPolicy) -> str:
    """The canonical location of `uri`, or ForbiddenInput naming the rule it breaks."""
    scheme = scheme_of(uri)
    if scheme not in policy.allowed_schemes:
        raise ForbiddenInput(f"{uri}: scheme {scheme!r} is not in input.allowed_schemes {list(policy.allowed_schemes)}")
    raw = local_path(uri) if scheme == "file" else unquote(urlsplit(uri).path)
    if ".." in raw.replace("\\", "/").split("/"):
        raise ForbiddenInput(f"{uri}: '..' in an input path is refused; give the path without it")
    try:
        where = location(uri)
    except (ValueError, OSError, ImportError) as exc:  # ImportError: the store's filesystem is not installed
        raise ForbiddenInput(f"{uri!r} cannot be checked ({exc}); fix the manifest entry") from exc
    check_place(uri, where, policy)
    return where


def check_place(uri: str, where: str, policy: InputPolicy) -> None:
    """Raise ForbiddenInput when the location `where` of `uri` is not a place to read from:
    inside the output root, or outside the allowed roots."""
    shown = uri if where in (uri, local_path(uri)) else f"{uri} (resolves to {where})"
    if policy.output_location is not None and within(where, policy.output_location):
        raise ForbiddenInput(f"{shown} lies inside output.root {policy.output_root}: a run never reads its own output")
    roots = policy.root_locations
    if roots is not None and not any(within(where, root) for root in roots):
        raise ForbiddenInput(f"{shown} is outside input.allowed_roots {list(policy.allowed_roots or ())}")


@dataclass
class Admission:
    """Where each manifest entry stands before any work: refused (with the reason), a
    repeat of an earlier entry that is the same file, or admitted."""

    refused: dict[int, ForbiddenInput] = field(default_factory=dict)
    duplicates: set[int] = field(default_factory=set)


def admit(entries: list[dict], policy: InputPolicy) -> Admission:
    """Check every entry; among entries that are the same file (the same inode, reached
    through any path, link or URI form; the same object of a store), the first is the input
    and the rest are duplicates."""
    out = Admission()
    places: dict[int, str] = {}
    for i, entry in enumerate(entries):
        try:
            if entry.get("problem"):
                raise ForbiddenInput(f"{entry['uri']}: {entry['problem']}")
            places[i] = check_uri(entry["uri"], policy)
        except ForbiddenInput as exc:
            out.refused[i] = exc
    seen: set[str] = set()
    for i, identity in zip(places, _identities(list(places.values())), strict=True):
        if identity in seen:
            out.duplicates.add(i)
        seen.add(identity)
    return out


def _identities(places: list[str]) -> list[str]:
    """A local file is its device and inode (hard links and every spelling of its path are
    one file); one that cannot be stat'ed here (missing, or on a mount the driver lacks) and
    a remote object are their canonical location."""
    with ThreadPoolExecutor(STAT_THREADS) as pool:
        return list(pool.map(_identity, places))


def _identity(place: str) -> str:
    if scheme_of(place) != "file":
        return place
    try:
        st = os.stat(place)
    except OSError:
        return place
    return f"inode:{st.st_dev}:{st.st_ino}"
