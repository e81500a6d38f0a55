"""What the blob store needs from an object store (S3, OSS) beyond fsspec's file interface.

fsspec's ``open(path, "wb")`` hides how an object gets written, and the two stores differ in a
way that matters here: s3fs uploads parts and completes them on close, while ossfs *appends* to
the final key, so a writer killed part-way leaves a truncated object under the blob's name, which
the next registration would then trust as stored. The blob store therefore drives multipart
uploads itself, through the store's own API, so that:

- nothing appears under a blob's key before its last byte was sent, hashed and checked (the
  upload is completed, or the single PUT sent, only then);
- an upload a killed process left behind can be listed and aborted (``labrig models gc``);
- memory stays bounded by the part size.

Reads go through the store's API too on OSS: ossfs 2025.5 asks oss2 for inclusive byte ranges
one byte too long, so its ranged reads return overlapping chunks.
"""

from __future__ import annotations

import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, cast

from ..errors import InvalidInput

log = logging.getLogger(__name__)

#: Bytes per uploaded part unless the store options set ``default_block_size``. A blob no
#: larger than this goes up in one PUT.
PART_SIZE = 64 * 1024 * 1024
#: S3 refuses parts smaller than this (except the last one); OSS accepts them.
MIN_PART_SIZE = 5 * 1024 * 1024


@dataclass(frozen=True)
class PendingUpload:
    """A multipart upload begun and neither completed nor aborted."""

    path: str  # bucket/key
    upload_id: str
    initiated: datetime | None


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.partition("/")
    return bucket, key


class ObjectApi(ABC):
    """One object store's calls, on the filesystem fsspec built (its credentials, endpoint)."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    @abstractmethod
    def put_object(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def create_upload(self, path: str) -> str: ...

    @abstractmethod
    def upload_part(self, path: str, upload_id: str, number: int, data: bytes) -> str:
        """Send part ``number`` (from 1); returns its ETag."""

    @abstractmethod
    def complete_upload(self, path: str, upload_id: str, etags: list[str]) -> None: ...

    @abstractmethod
    def abort_upload(self, path: str, upload_id: str) -> None: ...

    @abstractmethod
    def pending_uploads(self, prefix: str) -> Iterator[PendingUpload]:
        """Unfinished multipart uploads whose key starts with ``prefix`` (bucket/key-prefix)."""

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def remove(self, path: str) -> None: ...

    @abstractmethod
    def open_read(self, path: str) -> IO[bytes]: ...

    @abstractmethod
    def probe(self, bucket: str) -> None:
        """List one key of ``bucket``: raises when it is missing or the credentials are refused."""

    def upload(
        self, path: str, chunks: Iterable[bytes], part_size: int, verify: Callable[[], None]
    ) -> None:
        """Write ``chunks`` as the object at ``path``. ``verify`` runs after the last chunk was
        read and before the object becomes visible; when it raises, nothing is left behind."""
        buffer = bytearray()
        upload_id: str | None = None
        etags: list[str] = []
        try:
            for chunk in chunks:
                buffer += chunk
                while len(buffer) >= part_size:
                    upload_id = upload_id or self.create_upload(path)
                    part = bytes(buffer[:part_size])
                    del buffer[:part_size]
                    etags.append(self.upload_part(path, upload_id, len(etags) + 1, part))
            verify()
            if upload_id is None:
                self.put_object(path, bytes(buffer))
                return
            if buffer:
                etags.append(self.upload_part(path, upload_id, len(etags) + 1, bytes(buffer)))
            self.complete_upload(path, upload_id, etags)
        except BaseException:
            if upload_id is not None:
                self._abort_quietly(path, upload_id)
            raise

    def _abort_quietly(self, path: str, upload_id: str) -> None:
        """Abort after a failure; the failure is what the caller reports, and an upload that
        cannot be aborted now is aborted by the next ``gc``."""
        try:
            self.abort_upload(path, upload_id)
        except Exception as err:  # noqa: BLE001 - must not hide the failure being reported
            log.warning(
                "labrig: could not abort the upload of %s (%s); `labrig models gc` will",
                path,
                type(err).__name__,
            )


class S3Api(ObjectApi):
    """Through s3fs's client (``call_s3`` translates botocore errors to OSError kinds)."""

    def put_object(self, path: str, data: bytes) -> None:
        bucket, key = _split(path)
        self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data)

    def create_upload(self, path: str) -> str:
        bucket, key = _split(path)
        reply = self.fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)
        return str(reply["UploadId"])

    def upload_part(self, path: str, upload_id: str, number: int, data: bytes) -> str:
        bucket, key = _split(path)
        reply = self.fs.call_s3(
            "upload_part", Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return str(reply["ETag"])

    def complete_upload(self, path: str, upload_id: str, etags: list[str]) -> None:
        bucket, key = _split(path)
        parts = [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]
        self.fs.call_s3(
            "complete_multipart_upload",
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )

    def abort_upload(self, path: str, upload_id: str) -> None:
        bucket, key = _split(path)
        self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)

    def pending_uploads(self, prefix: str) -> Iterator[PendingUpload]:
        bucket, key_prefix = _split(prefix)
        markers: dict[str, str] = {}
        while True:
            reply = self.fs.call_s3(
                "list_multipart_uploads", Bucket=bucket, Prefix=key_prefix, **markers
            )
            for upload in reply.get("Uploads", []):
                yield PendingUpload(
                    f"{bucket}/{upload['Key']}", upload["UploadId"], upload.get("Initiated")
                )
            if not reply.get("IsTruncated"):
                return
            markers = {
                "KeyMarker": reply["NextKeyMarker"],
                "UploadIdMarker": reply["NextUploadIdMarker"],
            }

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def remove(self, path: str) -> None:
        self.fs.rm(path)

    def open_read(self, path: str) -> IO[bytes]:
        handle: IO[bytes] = self.fs.open(path, "rb")
        return handle

    def probe(self, bucket: str) -> None:
        self.fs.call_s3("list_objects_v2", Bucket=bucket, MaxKeys=1)


class OssApi(ObjectApi):
    """Through ossfs's oss2 calls (``_call_oss`` translates OSS errors to OSError kinds)."""

    def _call(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        bucket, key = _split(path)
        return self.fs._call_oss(method, key, *args, bucket=bucket, **kwargs)

    def put_object(self, path: str, data: bytes) -> None:
        self._call("put_object", path, data)

    def create_upload(self, path: str) -> str:
        return str(self._call("init_multipart_upload", path).upload_id)

    def upload_part(self, path: str, upload_id: str, number: int, data: bytes) -> str:
        return str(self._call("upload_part", path, upload_id, number, data).etag)

    def complete_upload(self, path: str, upload_id: str, etags: list[str]) -> None:
        from oss2.models import PartInfo

        parts = [PartInfo(n, etag) for n, etag in enumerate(etags, 1)]
        self._call("complete_multipart_upload", path, upload_id, parts)

    def abort_upload(self, path: str, upload_id: str) -> None:
        self._call("abort_multipart_upload", path, upload_id)

    def pending_uploads(self, prefix: str) -> Iterator[PendingUpload]:
        bucket, key_prefix = _split(prefix)
        markers: dict[str, str] = {}
        while True:
            reply = self.fs._call_oss(
                "list_multipart_uploads", bucket=bucket, prefix=key_prefix, **markers
            )
            for upload in reply.upload_list:
                initiated = datetime.fromtimestamp(upload.initiation_date, UTC)
                yield PendingUpload(f"{bucket}/{upload.key}", upload.upload_id, initiated)
            if not reply.is_truncated:
                return
            markers = {
                "key_marker": reply.next_key_marker,
                "upload_id_marker": reply.next_upload_id_marker,
            }

    def exists(self, path: str) -> bool:
        # ossfs's exists() asks for the bucket's info first, which S3-compatible servers lack.
        try:
            self._call("get_object_meta", path)
        except FileNotFoundError:
            return False
        return True

    def remove(self, path: str) -> None:
        self._call("delete_object", path)

    def open_read(self, path: str) -> IO[bytes]:
        return cast("IO[bytes]", _Stream(self._call("get_object", path)))

    def probe(self, bucket: str) -> None:
        # ossfs's ls() answers [] when the credentials are refused; the call itself raises.
        self.fs._call_oss("list_objects", bucket=bucket, max_keys=1)


class _Stream(io.RawIOBase):
    """A whole-object GET (oss2's result) as a readable binary file."""

    def __init__(self, result: Any) -> None:
        self._result = result

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._result.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._result.close()
        super().close()


def object_api(fs: Any) -> ObjectApi | None:
    """The object-store API behind ``fs``, or None for a filesystem that is not one."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    if "s3" in protocols:
        return S3Api(fs)
    if "oss" in protocols:
        return OssApi(fs)
    return None


def part_size_of(options: dict[str, Any]) -> int:
    """Bytes per uploaded part: the options' ``default_block_size`` (fsspec's name for it)."""
    value = options.get("default_block_size", PART_SIZE)
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_PART_SIZE:
        raise InvalidInput(
            f"LabrigApp.model_store_options default_block_size must be a whole number of "
            f"bytes of at least {MIN_PART_SIZE} (5 MiB, the smallest part S3 accepts), "
            f"not {value!r}",
            field="model_store_options",
        )
    return value


class DomainErrors(io.RawIOBase):
    """A store's file whose read errors become the store's domain errors."""

    def __init__(self, handle: IO[bytes], error: Callable[[BaseException], Exception]) -> None:
        self._handle = handle
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._handle.read(len(buffer))
        except Exception as err:
            raise self._error(err) from err
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()
