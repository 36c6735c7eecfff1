"""The output root: one storage layer for every table, media file, marker, summary and report.

`output.root` is a local folder, a mount every node shares, or an object-store URI
(`s3://bucket/prefix`, `gs://...`, any fsspec filesystem). Every write names a path relative
to the root and is atomic for readers: on a local or mounted folder a temporary name is
renamed into place; on an object store a PUT is already all-or-nothing (and a rename does
not exist), so the object is written under its final name once. Credentials and endpoints
come from the environment (`AWS_*`, `AWS_ENDPOINT_URL`, `GOOGLE_APPLICATION_CREDENTIALS`)
and from `output.storage_options`, passed to the fsspec filesystem as they are.

A Store pickles as its root and options, so Ray workers on any node reach the same root.
On the driver it also carries the run's fence (cluster/lease.py): every commit calls
`fence()`, which raises once the run has lost its lease on the root.
"""

from __future__ import annotations

import atexit
import json
import os
import posixpath
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache, cached_property
from typing import IO, Any

import fsspec
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from cluster.storage import is_remote, local_path
from cluster.usage import UsageError
from schemas.layout import RUN

SPOOL = 32 << 20


def _store_failures() -> tuple[type[BaseException], ...]:
    """What a store that cannot be reached or used raises: OSError subclasses from fsspec,
    and botocore's own errors (a refused connection, bad credentials) from s3fs."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return (OSError, ValueError)
    return (OSError, ValueError, BotoCoreError, ClientError)


STORE_FAILURES = _store_failures()


class StoreError(UsageError):
    """The output root cannot be used; the message names the root and the key to fix."""


class Store:
    def __init__(self, root: str, options: dict[str, Any] | None = None):
        if not root:
            raise StoreError(
                "output.root is empty: set it to a folder, a shared mount, or an object-store URI (s3://bucket/prefix)"
            )
        self.remote = is_remote(root)
        self.root = root.rstrip("/") if self.remote else os.path.abspath(local_path(root))
        self.options = dict(options or {})
        self.fence: Callable[[], None] = _open_fence

    def __getstate__(self) -> dict:
        return {"remote": self.remote, "root": self.root, "options": self.options}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.fence = _open_fence

    def __repr__(self) -> str:
        return f"Store({self.root!r})"

    @cached_property
    def _resolved(self) -> tuple[fsspec.AbstractFileSystem, str]:
        # other processes write and delete under the root all the time: a cached listing
        # would hide their files, so every listing asks the store
        return fsspec.core.url_to_fs(self.root, **{"use_listings_cache": False, **self.options})

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._resolved[0]

    @property
    def base(self) -> str:
        """The root as a path of `fs` (no scheme)."""
        return self._resolved[1].rstrip("/")

    @cached_property
    def arrow(self) -> pafs.FileSystem:
        """The same filesystem for pyarrow and Ray Data readers and writers."""
        if not self.remote:
            return pafs.LocalFileSystem()
        _wait_for_arrow_at_exit()
        return pafs.PyFileSystem(pafs.FSSpecHandler(self.fs))

    def path(self, rel: str = "") -> str:
        """`rel` as a path of `fs` and `arrow`."""
        return posixpath.join(self.base, rel) if rel else self.base

    def uri(self, rel: str = "") -> str:
        """`rel` as users and trainers name it: an absolute local path, or the store's URI."""
        return posixpath.join(self.root, rel) if rel else self.root

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.open_write(rel) as f:
            f.write(data)

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode())

    def write_json(self, rel: str, payload: Any) -> None:
        self.write_text(rel, json.dumps(payload, indent=2, sort_keys=True))

    @contextmanager
    def open_write(self, rel: str) -> Iterator[IO[bytes]]:
        """A binary file that readers see whole under `rel` once the block ends, and never
        in part; nothing is left under `rel` if the block raises."""
        if self.remote:
            # spooled locally (in memory up to SPOOL bytes) and uploaded once complete: an
            # object store publishes an object only when its upload completes
            with tempfile.SpooledTemporaryFile(SPOOL, prefix="vidcurate-") as spool:
                yield spool
                spool.seek(0)
                with self.fs.open(self.path(rel), "wb") as f:
                    shutil.copyfileobj(spool, f, SPOOL)
            return
        final = self.path(rel)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = f"{final}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            with open(tmp, "wb") as f:
                yield f
            os.replace(tmp, final)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def create(self, rel: str, data: bytes) -> bool:
        """Write `rel` only if nothing is there; False when something is. Atomic against a
        writer on another node: a conditional PUT (If-None-Match: *) on an object store; on
        a folder or shared mount, a complete temporary file hard-linked into place (link
        fails if the name exists, also over NFS)."""
        if self.remote:
            try:
                self.fs.pipe_file(self.path(rel), data, mode="create")
            except FileExistsError:
                return False
            return True
        final = self.path(rel)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = f"{final}.tmp-{uuid.uuid4().hex[:8]}"
        with open(tmp, "wb") as f:
            f.write(data)
        try:
            os.link(tmp, final)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    def read_bytes(self, rel: str) -> bytes:
        return self.fs.cat_file(self.path(rel))

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode()

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read_bytes(rel))

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.path(rel))

    def files(self, folder: str, suffix: str = "") -> list[str]:
        """Every file under `folder` (recursively), relative to the root, sorted."""
        try:
            found = self.fs.find(self.path(folder))
        except FileNotFoundError:
            return []
        return sorted(
            rel for rel in map(self._rel, found) if rel.startswith(folder.rstrip("/") + "/") and rel.endswith(suffix)
        )

    def stamps(self, folder: str, suffix: str = "") -> dict[str, str]:
        """Every file under `folder` with its size and ETag (or modification time), from one
        listing: what changes when a file is rewritten, without reading any."""
        try:
            found = self.fs.find(self.path(folder), detail=True)
        except FileNotFoundError:
            return {}
        stamped = {
            self._rel(path): f"{info.get('size')}:{info.get('ETag') or info.get('mtime') or info.get('LastModified')}"
            for path, info in found.items()
        }
        return {rel: stamp for rel, stamp in sorted(stamped.items()) if rel.endswith(suffix)}

    def _rel(self, path: str) -> str:
        return path[len(self.base) + 1 :] if path.startswith(self.base + "/") else path

    def delete(self, rels: Iterable[str]) -> None:
        paths = [self.path(rel) for rel in rels]
        if paths:
            self.fs.rm(paths)
        if not self.remote:  # an object store has no folders to leave behind empty
            for folder in sorted({os.path.dirname(p) for p in paths}, key=len, reverse=True):
                self._prune(folder)

    def _prune(self, folder: str) -> None:
        """Remove `folder` and its parents while they are empty, up to (not including) the root."""
        while folder.startswith(self.base + "/") and os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)
            folder = os.path.dirname(folder)

    def delete_tree(self, folder: str) -> None:
        if self.fs.exists(self.path(folder)):
            self.fs.rm(self.path(folder), recursive=True)

    def dataset(self, rels: list[str], schema) -> pads.Dataset:
        """A pyarrow dataset of exactly these Parquet files."""
        return pads.dataset([self.path(r) for r in rels], schema=schema, format="parquet", filesystem=self.arrow)

    def upload(self, local_folder: str, folder: str) -> None:
        """Copy a local folder's files under `folder`, each written atomically."""
        for top, _, names in os.walk(local_folder):
            for name in names:
                source = os.path.join(top, name)
                rel = posixpath.join(folder, os.path.relpath(source, local_folder).replace(os.sep, "/"))
                with open(source, "rb") as f:
                    self.write_bytes(rel, f.read())

    def download(self, rels: list[str], local_folder: str) -> int:
        """Copy files down to the same relative paths under a local folder, with a progress
        bar. Resumable: a file already there at the store's size is skipped, and each copy
        lands under a temporary name first. Returns how many files were copied."""
        from tqdm import tqdm

        sizes = self._sizes(rels)
        todo = [r for r in rels if not _has_size(os.path.join(local_folder, r), sizes[r])]
        with tqdm(total=sum(sizes[r] for r in todo), unit="B", unit_scale=True, desc=f"media from {self.root}") as bar:
            for rel in todo:
                target = os.path.join(local_folder, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                partial = f"{target}.part"
                self.fs.get_file(self.path(rel), partial)
                os.replace(partial, target)
                bar.update(sizes[rel])
        return len(todo)

    def _sizes(self, rels: list[str]) -> dict[str, int]:
        """Sizes from one listing of the folders the files are in, not a request per file."""
        listed: dict[str, int] = {}
        for top in sorted({r.split("/")[0] for r in rels}):
            listed.update(
                {self._rel(path): info["size"] for path, info in self.fs.find(self.path(top), detail=True).items()}
            )
        return {r: listed[r] for r in rels}

    def check_writable(self) -> None:
        """Write, read back and delete a small object; a store that cannot be used stops the
        run here, before any work, naming the root and the keys that reach it."""
        probe = f"{RUN.progress}/.probe-{uuid.uuid4().hex[:8]}"
        try:
            self.write_text(probe, "vidcurate")
            if self.read_text(probe) != "vidcurate":
                raise OSError("read back different bytes")
            self.delete([probe])
        except STORE_FAILURES as exc:
            hint = (
                "check the bucket in output.root and the endpoint and credentials (output.storage_options, "
                "e.g. endpoint_url, or AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
                if self.remote
                else "check that output.root is a folder this user can write"
            )
            raise StoreError(
                f"output.root {self.root} cannot be written ({type(exc).__name__}: {exc}); {hint}"
            ) from exc


def output_store(output: Any) -> Store:
    """The store of a config's `output:` section."""
    return Store(output.root, output.storage_options)


def _open_fence() -> None:
    """The fence of a store held under no lease (workers, report, export): commits go ahead."""


def _has_size(path: str, size: int) -> bool:
    return os.path.isfile(path) and os.path.getsize(path) == size


# Arrow's pool threads drop their last reference to a file read through PyFileSystem (a
# Python fsspec file) a moment after the read has returned. One that does so once the
# interpreter has begun to finalize is ended inside the C++ destructor, which aborts the
# process ("terminate called without an active exception": `export` from an s3:// root died
# 7 times in 160 runs after writing all its output). Waiting a little at exit, before
# finalization, lets those threads take the GIL and finish while they still can.
ARROW_RELEASE_S = 0.2


@cache
def _wait_for_arrow_at_exit() -> None:
    atexit.register(time.sleep, ARROW_RELEASE_S)
