"""The content-addressed blob store behind the registry, on any fsspec filesystem.

Layout under the store URL: ``blobs/<aa>/<sha256>`` for content, ``tmp/<random>`` for writes in
flight. A local store gets each file in ONE pass that hashes and copies at the same time (the
write runs in a second thread while the next chunk is hashed), into a temporary name that is
renamed to its hash, so a blob is either whole or absent. Remote stores (S3, OSS) cannot rename
cheaply, so a file is hashed first and then uploaded straight to its final key while being hashed
again; the upload is a multipart upload labrig drives itself (``object_store``), completed only
once the second hash proved the bytes sent are the bytes hashed, so a blob's key holds the whole
file or nothing, even when the uploading process is killed (its unfinished upload is invisible
and ``gc`` aborts it).

Files are never read whole into memory: they move in ``CHUNK`` pieces (uploads in parts).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..errors import InvalidInput, LabrigError, NotFound, Unavailable
from .object_store import DomainErrors, ObjectApi, PendingUpload, object_api, part_size_of
from .store_access import (
    check_endpoint,
    mask,
    secrets_of,
    store_error,
    with_env_credentials,
)

CHUNK = 8 * 1024 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")

#: Called with (bytes done so far, total bytes) while a file moves.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    #: False when the store already had these bytes (nothing was copied).
    written: bool


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _changed(path: Path, before: tuple[int, int], counted: int) -> None:
    after = _stat(path)
    if after != before or counted != before[0]:
        raise InvalidInput(
            f"{path.name} changed while it was being hashed (size or modification time moved); "
            "register it again once whatever writes it has finished",
            field="path",
        )


HASH_CHUNK = 1024 * 1024


def _hash_stream(handle: Any, total: int, progress: Progress | None) -> tuple[str, int]:
    """sha256 of a file object, read into one reused buffer (no allocation per chunk)."""
    digest = hashlib.sha256()
    buffer = bytearray(HASH_CHUNK)
    view = memoryview(buffer)
    done = 0
    while n := handle.readinto(buffer):
        digest.update(view[:n])
        done += n
        if progress:
            progress(done, total)
    return digest.hexdigest(), done


def _copy_durably(src: int, dst: int, size: int) -> int:
    """Copy, then flush the copy to disk before it is renamed to its hash (a crash after the
    version commits must not leave a blob with missing bytes). The flush runs in the copying
    thread, so the disk writes overlap with the hashing that is still going on."""
    copied = _kernel_copy(src, dst, size)
    os.fdatasync(dst)
    return copied


def _copy_while_hashing(
    path: Path, src: IO[bytes], dst: IO[bytes], size: int, progress: Progress | None
) -> tuple[str, int, int]:
    """(sha256, bytes hashed, bytes copied): the durable copy runs in a second thread while
    this one hashes. A file of one hashing chunk or less is copied, then hashed, here: starting
    a thread costs more than the overlap saves (16 processes registering small files at once
    each start one per file)."""
    if size <= HASH_CHUNK:
        copied = _copy_durably(src.fileno(), dst.fileno(), size)
        with path.open("rb", buffering=0) as reader:
            sha, done = _hash_stream(reader, size, progress)
        return sha, done, copied
    with ThreadPoolExecutor(1, thread_name_prefix="labrig-copy") as pool:
        copying = pool.submit(_copy_durably, src.fileno(), dst.fileno(), size)
        with path.open("rb", buffering=0) as reader:
            sha, done = _hash_stream(reader, size, progress)
        return sha, done, copying.result()


def _kernel_copy(src: int, dst: int, size: int) -> int:
    """Copy ``size`` bytes between file descriptors inside the kernel; bytes copied."""
    offset = 0
    try:
        while offset < size:
            n = os.copy_file_range(src, dst, min(size - offset, 1 << 30), offset, offset)
            if n == 0:
                break
            offset += n
        return offset
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while offset < size:  # a filesystem pair without copy_file_range
        chunk = os.pread(src, min(size - offset, CHUNK), offset)
        if not chunk:
            break
        os.pwrite(dst, chunk, offset)
        offset += len(chunk)
    return offset


def _read_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            return
        yield chunk


class BlobStore:
    """sha256-addressed files under an fsspec URL."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.protocol = self.url.split("://", 1)[0] if "://" in self.url else "file"
        resolved = with_env_credentials(self.protocol, dict(options or {}))
        self._secrets = secrets_of(self.protocol, resolved)
        check_endpoint(self.url, self.protocol, resolved)
        self.part_size = part_size_of(resolved)
        if self.protocol != "file":
            # A cached instance would keep the credentials of whoever built it first.
            resolved.setdefault("skip_instance_cache", True)
        try:
            fs, root = fsspec.core.url_to_fs(self.url, **resolved)
        except (ImportError, ValueError, TypeError) as err:
            raise InvalidInput(
                f"model_store_url {url!r} cannot be opened with LabrigApp.model_store_options: "
                f"{mask(str(err), self._secrets)}",
                field="model_store_url",
            ) from err
        self.fs: Any = fs
        self.local = isinstance(fs, LocalFileSystem)
        # bucket/prefix for object stores (ossfs keeps a leading "/"), an absolute path locally
        self.root = root.rstrip("/") if self.local else root.strip("/")
        #: The object store's own calls (S3, OSS); None for filesystems written through fsspec.
        self.api: ObjectApi | None = None if self.local else object_api(fs)

    def _error(self, err: BaseException) -> Exception:
        return store_error(err, self.url, self.protocol, self._secrets)

    # -- layout -----------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> str:
        """Where a blob is. Its name is its sha256 and nothing else, so a value read back from
        the database cannot lead out of the store (to be read, downloaded or removed)."""
        if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
            raise InvalidInput(
                f"{str(sha256)[:80]!r} is not a stored file's sha256 (64 hex digits)",
                field="sha256",
            )
        return f"{self.root}/blobs/{sha256[:2]}/{sha256}"

    def _tmp_path(self) -> str:
        return f"{self.root}/tmp/{uuid.uuid4().hex}"

    # -- queries ----------------------------------------------------------------------------

    def _fresh(self) -> None:
        """Drop cached listings of a remote store (another process may have written)."""
        if not self.local:
            self.fs.invalidate_cache()

    def exists(self, sha256: str) -> bool:
        self._fresh()
        try:
            if self.api is not None:
                return self.api.exists(self.blob_path(sha256))
            return bool(self.fs.exists(self.blob_path(sha256)))
        except Exception as err:
            raise self._error(err) from err

    def check(self) -> None:
        """Raise Unavailable when the store cannot be listed (a quick reachability probe)."""
        try:
            if self.local:
                self.fs.makedirs(f"{self.root}/blobs", exist_ok=True)
                self.fs.ls(f"{self.root}/blobs")
            elif self.api is not None:  # the bucket must exist; prefixes need no creating
                self._probe_bucket(self.api)
            else:
                self._fresh()
                self.fs.ls(self.root.split("/", 1)[0])
        except LabrigError:
            raise
        except Exception as err:
            raise self._error(err) from err

    def _probe_bucket(self, api: ObjectApi) -> None:
        bucket = self.root.split("/", 1)[0]
        try:
            api.probe(bucket)
        except FileNotFoundError as err:
            raise Unavailable(
                f"the model store at {self.url} has no bucket {bucket!r}: create it, or point "
                "LabrigApp.model_store_url at one that exists"
            ) from err

    def iter_blobs(self) -> Iterator[tuple[str, datetime | None]]:
        """Every blob in the store with its modification time (when the store reports one)."""
        self._fresh()
        try:
            found = self.fs.find(f"{self.root}/blobs", detail=True)
        except FileNotFoundError:
            return
        except Exception as err:
            raise self._error(err) from err
        for path, info in found.items():
            name = path.rsplit("/", 1)[-1]
            if SHA256.fullmatch(name):
                yield name, _mtime(info)

    def iter_tmp(self) -> Iterator[tuple[str, datetime | None]]:
        try:
            found = self.fs.find(f"{self.root}/tmp", detail=True)
        except FileNotFoundError:
            return
        except Exception as err:
            raise self._error(err) from err
        for path, info in found.items():
            yield path, _mtime(info)

    def remove(self, path: str) -> None:
        try:
            if self.api is not None:
                self.api.remove(path)
            else:
                self.fs.rm(path)
        except FileNotFoundError:
            pass
        except Exception as err:
            raise self._error(err) from err

    def pending_uploads(self) -> Iterator[PendingUpload]:
        """Multipart uploads of blobs begun and never completed (their process died)."""
        if self.api is None:
            return
        try:
            yield from self.api.pending_uploads(f"{self.root}/blobs/")
        except Exception as err:
            raise self._error(err) from err

    def abort_upload(self, upload: PendingUpload) -> None:
        if self.api is None:
            return
        try:
            self.api.abort_upload(upload.path, upload.upload_id)
        except FileNotFoundError:
            pass  # completed or aborted meanwhile
        except Exception as err:
            raise self._error(err) from err

    # -- writing ----------------------------------------------------------------------------

    def hash_file(self, path: Path, progress: Progress | None = None) -> tuple[str, int]:
        """sha256 and size of a local file, checking it did not change meanwhile."""
        before = _stat(path)
        with path.open("rb", buffering=0) as handle:
            sha, done = _hash_stream(handle, before[0], progress)
        _changed(path, before, done)
        return sha, done

    def put_file(
        self,
        path: Path,
        progress: Progress | None = None,
        *,
        known_sizes: set[int] | None = None,
        on_hashed: Callable[[str], None] | None = None,
    ) -> StoredBlob:
        """Store a local file; identical content already there costs a hash, not a copy.

        ``known_sizes``: sizes of blobs already in the store. A file of a size nobody has is
        new for sure, so it is hashed while it is copied (one pass); otherwise it is hashed
        first and copied only when its hash is new. ``on_hashed``: called with the hash before
        an upload to a remote store begins (a lease taken there keeps ``gc`` off the upload
        however long it takes; a local copy needs none: ``gc`` leaves young tmp/ files alone).
        """
        if not path.is_file():
            raise NotFound(f"{path} does not exist or is not a file", field="path")
        size = path.stat().st_size
        try:
            if known_sizes is None or size in known_sizes or not self.local:
                sha, size = self.hash_file(path, progress)
                if on_hashed and not self.local:
                    on_hashed(sha)
                if self.exists(sha):
                    return StoredBlob(sha, size, written=False)
                if not self.local:
                    self._upload(path, sha, progress)
                    return StoredBlob(sha, size, written=True)
            return self._copy_local(path, progress)
        except LabrigError:
            raise
        except Exception as err:
            raise self._error(err) from err

    def _copy_local(self, path: Path, progress: Progress | None) -> StoredBlob:
        """Copy into tmp/ while hashing, then rename to blobs/<sha>.

        The copy runs in the kernel (``copy_file_range``, what ``cp`` uses) and is flushed to
        disk in a second thread while this thread hashes the same file, so registering costs
        about the longer of the two rather than their sum. Size and mtime are compared before
        and after both.
        """
        tmp = self._tmp_path()
        self.fs.makedirs(tmp.rsplit("/", 1)[0], exist_ok=True)
        before = _stat(path)
        try:
            with path.open("rb", buffering=0) as src, open(tmp, "wb", buffering=0) as dst:
                sha, done, copied = _copy_while_hashing(path, src, dst, before[0], progress)
            _changed(path, before, done)
            if copied != done:
                _changed(path, before, copied)
            final = self.blob_path(sha)
            if os.path.exists(final):
                os.unlink(tmp)
                return StoredBlob(sha, done, written=False)
            os.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            os.replace(tmp, final)
            return StoredBlob(sha, done, written=True)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _upload(self, path: Path, sha: str, progress: Progress | None) -> None:
        """Upload to the final key, hashing again on the way; the object becomes visible only
        when the bytes sent hash to ``sha``."""
        final = self.blob_path(sha)
        before = _stat(path)
        digest = hashlib.sha256()
        done = 0

        def hashed_chunks(src: IO[bytes]) -> Iterator[bytes]:
            nonlocal done
            for chunk in _read_chunks(src):
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, before[0])
                yield chunk

        def verify() -> None:
            _changed(path, before, done)
            if digest.hexdigest() != sha:
                raise InvalidInput(
                    f"{path.name} changed between hashing and uploading; register it again",
                    field="path",
                )

        with path.open("rb") as src:
            if self.api is not None:
                self.api.upload(final, hashed_chunks(src), self.part_size, verify)
                return
            with self.fs.open(final, "wb", block_size=self.part_size) as dst:
                for chunk in hashed_chunks(src):
                    dst.write(chunk)
        try:
            verify()
        except InvalidInput:
            self.remove(final)
            raise

    # -- reading ----------------------------------------------------------------------------

    def fetch(self, sha256: str, target: Path, progress: Progress | None = None) -> None:
        """Copy a blob to ``target`` (via a temporary name) and verify its hash."""
        self.blob_path(sha256)  # a name that is not a sha256 is refused before the store is asked
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        done = 0
        try:
            with self._open_blob(sha256) as src, tmp.open("wb") as dst:
                for chunk in _read_chunks(src):
                    digest.update(chunk)
                    dst.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, 0)
            if digest.hexdigest() != sha256:
                raise Unavailable(
                    f"blob {sha256} in {self.url} is corrupt (its bytes hash to "
                    f"{digest.hexdigest()}); register the model again"
                )
            tmp.replace(target)
        except FileNotFoundError as err:
            raise NotFound(f"blob {sha256} is missing from the model store {self.url}") from err
        except LabrigError:
            raise
        except Exception as err:
            raise self._error(err) from err
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _open_blob(self, sha256: str) -> IO[bytes]:
        if self.api is not None:
            return self.api.open_read(self.blob_path(sha256))
        handle: IO[bytes] = self.fs.open(self.blob_path(sha256), "rb")
        return handle

    def open(self, sha256: str) -> IO[bytes]:
        """A blob as a binary file whose reads fail with domain errors (remote stores may
        refuse or fail on the first read, not at open)."""
        self.blob_path(sha256)  # a name that is not a sha256 is refused before the store is asked
        try:
            handle = self._open_blob(sha256)
        except FileNotFoundError as err:
            raise NotFound(f"blob {sha256} is missing from the model store {self.url}") from err
        except Exception as err:
            raise self._error(err) from err
        return cast("IO[bytes]", DomainErrors(handle, self._error))


def _mtime(info: dict[str, Any]) -> datetime | None:
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
    return None
