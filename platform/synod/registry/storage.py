"""A content-addressed blob store on top of Django's default storage.

Uploads are streamed to a local spool file while their sha256 is computed and their size
checked, so nothing reaches the store before it is validated, and a file over the limit is
abandoned as soon as it crosses it. The store keeps each blob once, under its hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import Storage, storages

from synod.registry.errors import UploadTooLarge

CHUNK_SIZE = 1024 * 1024

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class SpooledBlob:
    """A fully received upload on local disk, hashed, not yet in the store."""

    path: Path
    sha256: str
    size: int


def blob_storage() -> Storage:
    return storages["default"]


def blob_name(sha256: str) -> str:
    # Two levels of fan-out keep directories small on file systems and list calls cheap on S3.
    return f"blobs/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def iter_chunks(source: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    """Chunks from a Django UploadedFile, any binary file object, or an iterable of bytes."""
    if hasattr(source, "chunks"):
        yield from source.chunks(CHUNK_SIZE)
    elif hasattr(source, "read"):
        while chunk := source.read(CHUNK_SIZE):
            yield chunk
    else:
        yield from source


@contextmanager
def spooled(
    source: BinaryIO | Iterable[bytes],
    *,
    max_bytes: int,
    what: str,
    on_progress: ProgressCallback | None = None,
) -> Iterator[SpooledBlob]:
    """Receive `source` into a temporary file, hashing as it goes; the file is removed when
    the block ends, whether or not it was stored."""
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(prefix="synod-upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter_chunks(source):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(
                        f"The {what} is larger than the limit of {format_bytes(max_bytes)}; "
                        "nothing was stored."
                    )
                digest.update(chunk)
                out.write(chunk)
                if on_progress is not None:
                    on_progress(len(chunk))
        yield SpooledBlob(path=path, sha256=digest.hexdigest(), size=size)
    finally:
        path.unlink(missing_ok=True)


def store_spooled(blob: SpooledBlob) -> str:
    """Put a spooled file into the store under its hash; a blob already there is kept."""
    storage = blob_storage()
    name = blob_name(blob.sha256)
    if storage.exists(name):
        return name
    with blob.path.open("rb") as handle:
        saved = storage.save(name, File(handle, name=name))
    if saved != name:
        # A concurrent upload of the same bytes won the race and the storage picked a fresh
        # name for ours: same content, so keep theirs and drop the copy.
        storage.delete(saved)
    return name


def store_bytes(data: bytes) -> tuple[str, str]:
    """Store small content (an evaluation report); returns (sha256, storage name)."""
    sha256 = hashlib.sha256(data).hexdigest()
    storage = blob_storage()
    name = blob_name(sha256)
    if not storage.exists(name):
        with tempfile.TemporaryFile() as handle:
            handle.write(data)
            handle.seek(0)
            saved = storage.save(name, File(handle, name=name))
        if saved != name:
            storage.delete(saved)
    return sha256, name


def read_blob(name: str) -> bytes:
    with blob_storage().open(name, "rb") as handle:
        return handle.read()


@contextmanager
def local_copy(name: str) -> Iterator[Path]:
    """A path on local disk for a stored blob, for libraries that need one (onnxruntime,
    pyarrow). File system storage hands out its own path; other backends are copied."""
    storage = blob_storage()
    try:
        direct = Path(storage.path(name))
    except NotImplementedError:
        direct = None
    if direct is not None:
        yield direct
        return
    fd, tmp = tempfile.mkstemp(prefix="synod-blob-")
    try:
        with os.fdopen(fd, "wb") as out, storage.open(name, "rb") as src:
            for chunk in iter_chunks(src):
                out.write(chunk)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"
