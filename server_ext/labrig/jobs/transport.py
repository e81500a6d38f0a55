"""A job's folder on shared storage: how ranks that share no disk and no database with the
Jupyter server report to it, and why nothing is lost while the server is down.

Ranks on a cluster write what a local rank writes into its job folder (log, progress, metrics,
result, output notebook) to ``<storage_url>/jobs/<job id>/`` through fsspec (``s3://``,
``oss://``, or a ``file://`` path on a shared volume). Object stores cannot append, so the
append-only files travel as segments named by their starting byte offset
(``ranks/0/log/000000001024``); readers join them back. Model registrations a rank makes are
staged there too (``staged/<rank>-<n>/meta.json`` + ``files/``) and registered by the server
when it finalizes the job. The storage outlives the server and the pods, so a server that was
culled or restarted reads everything back, and a finished job's logs open after its pods are
garbage-collected.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

from .backend import LogChunk, Staged
from .runtime import json_points

SEGMENT_DIGITS = 12


def open_fs(url: str, options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec filesystem and root path of a storage URL."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, **(options or {}))
    return fs, root.rstrip("/")


class JobFolder:
    """One job's folder on shared storage."""

    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    @classmethod
    def open(cls, url: str, options: dict[str, Any] | None = None) -> JobFolder:
        fs, root = open_fs(url, options)
        return cls(fs, root)

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def rank(self, rank: int, *parts: str) -> str:
        return self.path("ranks", str(rank), *parts)

    # --- writing (ranks, and the server for the snapshot) --------------------------------------

    def put_bytes(self, path: str, data: bytes) -> None:
        """Write a whole object (atomically on object stores; through a temporary name on
        file systems, so a reader never sees half of it)."""
        parent = posixpath.dirname(path)
        if parent:
            self.fs.makedirs(parent, exist_ok=True)
        if getattr(self.fs, "protocol", None) in ("file", ("file", "local")):
            tmp = f"{path}.part"
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        else:
            self.fs.pipe_file(path, data)

    def put_segment(self, name: str, rank: int, start: int, data: bytes) -> None:
        self.put_bytes(self.rank(rank, name, f"{start:0{SEGMENT_DIGITS}d}"), data)

    # --- reading (the server) -----------------------------------------------------------------

    def _read(self, path: str) -> bytes | None:
        try:
            data: bytes = self.fs.cat_file(path)
            return data
        except (FileNotFoundError, OSError):
            return None

    def read_json(self, path: str) -> dict[str, Any] | None:
        data = self._read(path)
        if data is None:
            return None
        try:
            value = json.loads(data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _segments(self, rank: int, name: str) -> list[tuple[int, str]]:
        try:
            names = self.fs.ls(self.rank(rank, name), detail=False)
        except (FileNotFoundError, OSError):
            return []
        found = []
        for entry in names:
            base = posixpath.basename(entry.rstrip("/"))
            if base.isdigit() and len(base) == SEGMENT_DIGITS:
                found.append((int(base), entry))
        return sorted(found)

    def read_appended(self, rank: int, name: str, offset: int, limit: int) -> LogChunk:
        """Bytes ``offset``.. of an append-only file kept as segments, ending at a line break
        (a reader never sees half a line), the offset to continue from, and the size so far."""
        segments = self._segments(rank, name)
        out = bytearray()
        size = 0
        for index, (start, path) in enumerate(segments):
            following = segments[index + 1][0] if index + 1 < len(segments) else None
            if following is not None:
                size = following
                if following <= offset or len(out) >= limit:
                    continue  # wholly before the offset, or enough read: not fetched
            data = self._read(path) or b""
            size = max(size, start + len(data))
            if len(out) < limit:
                out += data[max(0, offset - start) :]
        data = bytes(out[:limit])
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else b""
        return LogChunk(data, offset + len(data), size)

    def metrics(self, rank: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        chunk = self.read_appended(rank, "metrics", offset, 1 << 30)
        return json_points(chunk.data), chunk.next_offset

    def progress(self, rank: int) -> dict[str, Any]:
        return self.read_json(self.rank(rank, "progress.json")) or {}

    def result(self, rank: int) -> dict[str, Any] | None:
        return self.read_json(self.rank(rank, "result.json"))

    def fetch_output(self, dest: Path) -> bool:
        data = self._read(self.path("output.ipynb"))
        if data is None:
            return dest.is_file()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(dest)
        return True

    def staged(self, into: Path) -> list[Staged]:
        """The registrations the ranks staged, their files copied under ``into``."""
        try:
            entries = sorted(self.fs.ls(self.path("staged"), detail=False))
        except (FileNotFoundError, OSError):
            return []
        found = []
        for entry in entries:
            name = posixpath.basename(entry.rstrip("/"))
            meta = self.read_json(posixpath.join(entry, "meta.json"))
            if meta is None:
                continue  # a rank stopped while staging it: never half-registered
            local = into / name
            self.fs.get(posixpath.join(entry, "files") + "/", str(local), recursive=True)
            target = local / meta["file"] if meta.get("file") else local
            found.append(
                Staged(
                    meta["name"],
                    target,
                    int(meta.get("rank", 0)),
                    key=f"staged/{name}",
                    options=dict(meta.get("options") or {}),
                    declared=bool(meta.get("declared")),
                )
            )
        return found

    def remove(self) -> None:
        try:
            self.fs.rm(self.root, recursive=True)
        except (FileNotFoundError, OSError):
            return

    def stage(
        self,
        key: str,
        name: str,
        source: Path,
        rank: int,
        options: dict[str, Any],
        declared: bool = False,
    ) -> None:
        """Stage a registration: its files first, ``meta.json`` last (a reader skips entries
        without one, so an interrupted upload leaves nothing the server registers)."""
        base = self.path("staged", key)
        files = posixpath.join(base, "files")
        self.fs.makedirs(files, exist_ok=True)
        if source.is_dir():
            self.fs.put(str(source) + "/", files + "/", recursive=True)
            file = None
        else:
            self.fs.put_file(str(source), posixpath.join(files, source.name))
            file = source.name
        meta = {
            "name": name,
            "rank": rank,
            "file": file,
            "options": options,
            "declared": declared,
        }
        self.put_bytes(posixpath.join(base, "meta.json"), json.dumps(meta).encode())
