"""Data sources: parse and check a dataset's source URL and options, list it, read it.

Every scheme goes through an fsspec filesystem (``file``, ``s3`` via s3fs, ``oss`` via ossfs,
``gs`` via gcsfs, ``http(s)``), built with credentials resolved from the environment or a
credentials file at the moment of use: the catalog stores only *where* credentials are, and
every message that could carry one goes through :func:`mask`.

``Source`` (listing and reading) lives here; the rest is split by concern and re-exported:
``source_options`` (URL, options, credentials, masking), ``manifest`` (entries, versions, diff),
``source_errors`` (domain errors) and ``protocols`` (per-scheme filesystems and listings).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from labrig.errors import InvalidInput, LabrigError
from labrig.paths import confine_absolute

from .manifest import MD5_ETAG, Entry, diff, manifest_version
from .protocols import (
    http_entry,
    list_http,
    list_local,
    list_objects,
    local_entry,
    make_filesystem,
    object_entry,
    protocol_of,
    quoted,
    read_s3_range,
    read_timeout,
    root_path,
)
from .source_errors import SourceChanged, source_error
from .source_options import (
    CREDENTIAL_ROLES,
    ENV_NAME,
    OPTION_KEYS,
    SCHEMES,
    Secrets,
    check_include,
    check_options,
    check_source_url,
    mask,
    public_options,
    resolve_secrets,
)

__all__ = [
    "CREDENTIAL_ROLES",
    "ENV_NAME",
    "MD5_ETAG",
    "OPTION_KEYS",
    "SCHEMES",
    "Entry",
    "ProgressFn",
    "Secrets",
    "Source",
    "SourceChanged",
    "check_include",
    "check_options",
    "check_source_url",
    "diff",
    "manifest_version",
    "mask",
    "public_options",
    "read_timeout",
    "resolve_secrets",
]

ProgressFn = Callable[[int], None]


class Source:
    """A dataset's source: listing into manifest entries and fetching bytes."""

    def __init__(self, name: str, url: str, options: dict[str, Any], include: str | None) -> None:
        self.name = name
        self.url = url
        self.options = options
        self.include = include
        self.protocol = protocol_of(url)
        self.root = root_path(url)
        self.secrets = resolve_secrets(name, options)
        self._fs: Any = None
        self._lock = threading.Lock()

    def error(self, err: BaseException, what: str) -> LabrigError:
        """A domain error naming the dataset, what failed and what to do; credentials masked."""
        if isinstance(err, LabrigError):
            return err
        return source_error(
            err,
            what,
            dataset=self.name,
            url=self.url,
            endpoint_url=self.options.get("endpoint_url"),
            secrets=self.secrets,
        )

    @property
    def fs(self) -> Any:
        with self._lock:
            if self._fs is None:
                self._fs = make_filesystem(self.name, self.protocol, self.options, self.secrets)
            return self._fs

    def full_path(self, rel: str) -> str:
        if self.protocol in ("http", "https"):
            if not self.root.endswith("/"):
                return self.root  # a single-file source
            return self.root + rel
        return f"{self.root}/{rel}" if rel else self.root

    def list(self) -> list[Entry]:
        """Every file under the source (after ``include``), with size and ETag/version."""
        try:
            entries = self._list()
        except Exception as err:
            raise self.error(err, "listing") from err
        if not entries:
            raise InvalidInput(
                f"dataset {self.name!r}: {mask(self.url, self.secrets)} holds no files; "
                "check the prefix in source_url",
                field="source_url",
            )
        if self.include:
            kept = [e for e in entries if fnmatchcase(e.path, self.include)]
            if not kept:
                sample = ", ".join(e.path for e in entries[:3])
                raise InvalidInput(
                    f"dataset {self.name!r}: include pattern {self.include!r} matches none of "
                    f"the {len(entries)} files (e.g. {sample}); fix the pattern or drop it",
                    field="include",
                )
            entries = kept
        return sorted(entries, key=lambda e: e.path)

    def _list(self) -> list[Entry]:
        fs = self.fs
        if self.protocol == "file":
            return list_local(Path(self.root))
        if self.protocol in ("http", "https"):
            return list_http(fs, self.root)
        return list_objects(fs, self.protocol, self.root)

    def current(self, entry: Entry) -> Entry:
        """The entry as the source describes it now (for change detection)."""
        path = self.full_path(entry.path)
        try:
            if self.protocol == "file":
                return local_entry(Path(path), entry.path)
            info = self.fs.info(path)
        except Exception as err:
            raise self.error(err, f"checking {entry.path}") from err
        if self.protocol in ("http", "https"):
            return http_entry(entry.path, info)
        return object_entry(entry.path, info)

    @property
    def reads_are_conditional(self) -> bool:
        """Do reads fail (412) when the object changed since listing? Else check afterwards."""
        return self.protocol in ("s3", "http", "https")

    def read(self, entry: Entry, start: int, end: int) -> bytes:
        """Bytes [start, end) of ``entry``; fails with SourceChanged if its ETag moved."""
        path = self.full_path(entry.path)
        try:
            if self.protocol == "file":  # a symlink made since the listing leads nowhere else
                with open(confine_absolute(path, [self.root], field="source_url"), "rb") as f:
                    f.seek(start)
                    return f.read(end - start)
            if self.protocol == "s3" and entry.etag:
                return read_s3_range(self.fs, path, entry, start, end)
            if self.protocol in ("http", "https") and entry.etag:
                return bytes(
                    self.fs.cat_file(
                        path, start=start, end=end, headers={"If-Match": quoted(entry.etag)}
                    )
                )
            if self.protocol == "oss":
                # ossfs 2025.5 passes `end` to oss2 as an inclusive byte range: ask one less.
                return bytes(self.fs.cat_file(path, start=start, end=end - 1))
            return bytes(self.fs.cat_file(path, start=start, end=end))
        except Exception as err:
            raise self.error(err, f"reading {entry.path}") from err
