"""Manifests: the entries a listing of a source yields, the version a manifest hashes to, and
the difference between two manifests (what refresh shows)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

MD5_ETAG = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Entry:
    """One file of a dataset as the source listed it."""

    path: str  # relative to the source root, '/'-separated
    size: int
    etag: str | None = None
    version_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "size": self.size}
        if self.etag:
            out["etag"] = self.etag
        if self.version_id:
            out["version_id"] = self.version_id
        return out

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Entry:
        return cls(value["path"], int(value["size"]), value.get("etag"), value.get("version_id"))

    @property
    def md5(self) -> str | None:
        """The content MD5 when the ETag is one (single-part S3/OSS uploads, our HTTP fixture)."""
        tag = (self.etag or "").strip('"').lower()
        return tag if MD5_ETAG.fullmatch(tag) else None


def manifest_version(url: str, include: str | None, entries: list[Entry]) -> str:
    """The dataset version: a hash of where it comes from and what every file is."""
    digest = hashlib.sha256()
    digest.update(json.dumps([url, include or ""]).encode())
    for e in entries:
        digest.update(json.dumps([e.path, e.size, e.etag, e.version_id]).encode())
    return digest.hexdigest()[:16]


def diff(old: list[Entry], new: list[Entry]) -> dict[str, list[str]]:
    """Paths added, removed and modified (size, ETag or version changed) from old to new."""
    before = {e.path: e for e in old}
    after = {e.path: e for e in new}
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "modified": sorted(
            p
            for p in set(before) & set(after)
            if (before[p].size, before[p].etag, before[p].version_id)
            != (after[p].size, after[p].etag, after[p].version_id)
        ),
    }
