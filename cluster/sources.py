"""Reading an input where the decoder runs, as admission allowed and no otherwise.

A local input is opened (following symlinks) by the process that decodes it, and at that
moment its real location is checked against input.allowed_roots and output.root, and the
opened file's identity (device, inode, size, modification time) against the one recorded
when it was first read. A file swapped for a symlink to somewhere else after admission is
refused (ForbiddenInput), one replaced by other bytes is InputChanged. The decoder then
reads the opened file itself (/proc/self/fd/N), so nothing can be swapped in between.

A remote input is fetched to a local file (`fetch`, run inside the decoder guard so its
time limit bounds it) from the canonical URL admission checked, with connect and read
timeouts and a byte bound (input.remote); the object's ETag and size are its identity.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import fsspec

from cluster.admission import InputPolicy, check_place, location
from cluster.storage import InputChanged, InputUnavailable, RemoteLimits, local_path, scheme_of
from cluster.store import STORE_FAILURES

T = TypeVar("T")
CHUNK = 8 << 20

# What reading a remote object raises when the object or its store fails: OSError (timeouts
# included) and ValueError from fsspec, botocore's errors from s3fs, aiohttp's from http(s).
REMOTE_FAILURES: tuple[type[BaseException], ...] = (*STORE_FAILURES, aiohttp.ClientError)


class InputTooLarge(InputUnavailable):
    """A remote input is larger than input.remote.max_bytes."""


@dataclass(frozen=True)
class Source:
    """A file the decoder child may open: a local input, checked again when opened, or the
    local copy of a remote one."""

    uri: str
    path: str
    policy: InputPolicy | None  # None: a copy this worker fetched, nothing to check
    identity: str | None  # what the opened file must be (see identity_of); None: first read


def read(source: Source, fn: Callable[..., T], *args: Any) -> T:
    """fn(path, *args) on the file `source` names, opened and checked in this process."""
    if source.policy is None:
        return fn(source.path, *args)
    fd = open_checked(source)
    try:
        return fn(_fd_path(fd), *args)
    finally:
        os.close(fd)


def identify(source: Source) -> str:
    """Check that the local input `source` may be read now; its identity."""
    fd = open_checked(source)
    try:
        return _identity(os.fstat(fd))
    finally:
        os.close(fd)


def open_checked(source: Source) -> int:
    """A descriptor of the local input, opened now and checked: a regular file, at a place
    the policy allows, and the same file as recorded."""
    uri, path = source.uri, source.path
    try:
        # O_NONBLOCK: opening a fifo must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputUnavailable(f"{uri}: no such file (check the manifest path and its volume)") from None
    except (OSError, ValueError) as exc:
        raise InputUnavailable(f"{uri}: cannot be opened ({exc})") from exc
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise InputUnavailable(f"{uri}: not a regular file (a folder, fifo or device); give a video file")
        real = os.path.realpath(path)
        if source.policy is not None:
            check_place(uri, real, source.policy)
        named = os.stat(real)
        if (named.st_dev, named.st_ino) != (opened.st_dev, opened.st_ino):
            raise InputChanged(f"{uri} was replaced while it was being opened; rerun to read it as it is now")
        if source.identity is not None and _identity(opened) != source.identity:
            raise InputChanged(
                f"{uri} changed since it was probed (device:inode:size:mtime {source.identity} -> "
                f"{_identity(opened)}); rerun into a new output root to re-probe it"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def _identity(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _fd_path(fd: int) -> str:
    """A path that opens the file behind `fd` (not whatever its name points to now)."""
    return f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else f"/dev/fd/{fd}"


FD_PATH = re.compile(r"/(?:proc/self|dev)/fd/\d+")


def named(message: str, uri: str) -> str:
    """`message` of a decoder that read the opened file, naming the input instead."""
    return FD_PATH.sub(lambda _: uri, message)


def local_source(uri: str, policy: InputPolicy, identity: str | None) -> Source:
    return Source(uri, local_path(uri), policy, identity)


def fetch(uri: str, dest: str, limits: RemoteLimits) -> str:
    """Copy the remote object `uri` to the local file `dest`, within `limits`; returns its
    identity (size and ETag, or modification time). Runs in the decoder child."""
    fs, path, stream = _remote(uri, limits)
    try:
        info = fs.info(path)
        size = info.get("size")
        if isinstance(size, int) and size > limits.max_bytes:
            raise InputTooLarge(f"{uri}: {size} bytes, over input.remote.max_bytes={limits.max_bytes}")
        copied = 0
        with fs.open(path, "rb", **stream) as src, open(dest, "wb") as dst:
            while chunk := src.read(CHUNK):
                copied += len(chunk)
                if copied > limits.max_bytes:
                    raise InputTooLarge(f"{uri}: more than input.remote.max_bytes={limits.max_bytes} bytes")
                dst.write(chunk)
    except InputTooLarge:
        raise
    except REMOTE_FAILURES as exc:
        cause = exc.__cause__ or exc  # fsspec's http reports a timeout as FileNotFoundError from it
        if isinstance(cause, TimeoutError):
            raise InputUnavailable(
                f"{uri}: the server did not answer in time (input.remote.connect_timeout_s="
                f"{limits.connect_timeout_s}, read_timeout_s={limits.read_timeout_s}; {type(cause).__name__})"
            ) from exc
        raise InputUnavailable(f"{uri}: cannot read the remote object ({type(cause).__name__}: {cause})") from exc
    return f"{info.get('size')}:{info.get('ETag') or info.get('etag') or info.get('mtime') or info.get('LastModified')}"


def _remote(uri: str, limits: RemoteLimits) -> tuple[fsspec.AbstractFileSystem, str, dict[str, Any]]:
    """The filesystem of `uri` with the limits' timeouts, the canonical path admission
    checked (for http(s), the normalised URL, handed over as it is), and how to open it
    for one sequential read (over http, one streamed GET: not every server answers ranges)."""
    scheme = scheme_of(uri)
    options: dict[str, Any] = {"skip_instance_cache": True}
    stream: dict[str, Any] = {}
    if scheme in ("http", "https"):
        stream["block_size"] = 0
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=limits.connect_timeout_s,
            sock_connect=limits.connect_timeout_s,
            sock_read=limits.read_timeout_s,
        )
        options.update(client_kwargs={"timeout": timeout}, encoded=True)
    elif scheme in ("s3", "s3a"):
        options["config_kwargs"] = {
            "connect_timeout": limits.connect_timeout_s,
            "read_timeout": limits.read_timeout_s,
            "retries": {"max_attempts": 2},
        }
    fs, path = fsspec.core.url_to_fs(location(uri), **options)
    return fs, path, stream
