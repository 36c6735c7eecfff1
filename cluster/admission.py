"""Which manifest entries may be read: allowed schemes and roots, no path escapes, and each
input once. Runs on the driver; an entry refused here still ends as a row with its reason.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from urllib.parse import urlparse

from cluster.storage import is_remote, local_path, scheme_of


class ForbiddenInput(ValueError):
    """The manifest names something outside what the config allows to be read."""


@dataclass(frozen=True)
class InputPolicy:
    allowed_schemes: tuple[str, ...]
    allowed_roots: tuple[str, ...] | None  # None: anywhere the scheme allows


def check_uri(uri: str, policy: InputPolicy) -> None:
    """Raise ForbiddenInput naming the rule `uri` breaks."""
    scheme = scheme_of(uri)
    if scheme not in policy.allowed_schemes:
        raise ForbiddenInput(f"{uri}: scheme {scheme!r} is not in input.allowed_schemes {list(policy.allowed_schemes)}")
    raw = local_path(uri) if scheme == "file" else urlparse(uri).path
    if ".." in raw.replace("\\", "/").split("/"):
        raise ForbiddenInput(f"{uri}: '..' in an input path is refused; give the path without it")
    if policy.allowed_roots is None:
        return
    where = os.path.realpath(raw) if scheme == "file" else _remote_location(uri)
    roots = [_root_location(r) for r in policy.allowed_roots]
    if not any(where == root or where.startswith(root.rstrip("/") + "/") for root in roots):
        shown = f"{uri} (resolves to {where})" if scheme == "file" and where != raw else uri
        raise ForbiddenInput(f"{shown} is outside input.allowed_roots {list(policy.allowed_roots)}")


def _remote_location(uri: str) -> str:
    parsed = urlparse(uri)
    return f"{parsed.scheme.lower()}://{parsed.netloc}{posixpath.normpath(parsed.path or '/')}"


def _root_location(root: str) -> str:
    if is_remote(root):
        return _remote_location(root)
    return os.path.realpath(local_path(root))
