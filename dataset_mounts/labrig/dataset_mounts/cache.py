"""The host-wide dataset cache: local disk here, Fluid or PVCs on Kubernetes.

Layout under ``cache_dir`` (shared by the server, the CLI, kernels and job ranks on the host)::

    objects/ab/<key>        complete objects, read-only, never partial (renamed into place)
    objects/ab/<key>.md5    the MD5 of the object's bytes, written before the object appears
    tmp/<key>.<pid>.<n>     objects being fetched (removed on failure; swept when stale)
    locks/ab/<key>          flock(2) files: one fetcher per object across every process
    stats.json              hits, misses and bytes fetched, updated under a lock

An object's key is its content MD5 when the source offers one as the ETag (so identical files
in two datasets share an entry), else a hash of (source URL, path, size, ETag, version id).
An object's mtime is its last use: eviction removes the least recently used first.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from traitlets import Dict, Enum, Integer, List, Unicode, default

from labrig.backend import Backend
from labrig.errors import LabrigError, StorageFull

from .mount_dirs import flocked
from .sources import Entry, Source, SourceChanged

_counter = itertools.count()


class Cancelled(LabrigError):
    """A warm-up was cancelled; what was complete stays in the cache."""

    reason = "cancelled"


class CorruptObject(LabrigError):
    """Bytes fetched (or cached) do not match the size or checksum the source gave."""

    reason = "corrupt"


def write_at(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (a seam for tests that fill the disk)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


class DatasetCache(Backend):
    """Makes a pinned dataset version readable at a path, close to the kernels and jobs that
    read it: ``LocalDatasetCache`` on this host's disk, or a ``cluster.ClusterDatasetCache``
    (``labrig.k8s.fluid.FluidDatasetCache``: Fluid or PVCs) whose pods mount it by claim."""

    datasets = List(
        Dict(),
        config=True,
        help="""Admin-defined datasets, each {"name", "source_url", "options"?, "include"?,
        "read_only"?}. They appear in every user's catalog and cannot be removed there.""",
    )
    mount_root = Unicode(
        "~/datasets",
        config=True,
        help="Where `mount` puts a dataset by default: <mount_root>/<name>.",
    )
    allowed_mount_roots = List(
        Unicode(),
        config=True,
        help="""Directories a mount may be placed under (the mount_root is always allowed).
        Paths outside them, or reached through a symlink, are refused.""",
    )
    allowed_credentials_env = List(
        Unicode(),
        config=True,
        help="""Environment variables of the server that users' datasets may name in
        options.credentials_env, as glob patterns, e.g. ["DATASETS_S3_*"]. The server reads
        them and sends their values to the endpoint the dataset names, which the user chose:
        list only variables meant for users' datasets, never the server's own credentials
        (the model store's AWS_*/OSS_* variables, which s3fs and ossfs read by themselves).
        Default: none. Admin-defined datasets (datasets) may name any variable; LABRIG_*,
        JUPYTERHUB_* and JPY_* are never allowed in users' datasets.""",
    )
    allowed_credentials_files = List(
        Unicode(),
        config=True,
        help="""Credentials files users' datasets may name in options.credentials_file, as glob
        patterns of absolute paths ("~" expands to the server's home), e.g.
        ["/etc/labrig/dataset-credentials/*"]; a path is matched where its symlinks lead.
        Default: none. Admin-defined datasets (datasets) may name any file.""",
    )


class LocalDatasetCache(DatasetCache):
    """Dataset files cached on this machine's disk, shared by every kernel and job."""

    kind = "local"

    cache_dir = Unicode(
        "",
        config=True,
        help="Directory of the dataset cache. Default: <LabrigApp.data_dir>/cache.",
    )
    size_limit = Integer(
        0,
        config=True,
        help="""Most bytes the cache keeps; least recently used objects of datasets that are
        neither pinned nor mounted are evicted past it. 0: no limit.""",
    )
    workers = Integer(16, config=True, help="Objects fetched at once during a warm-up.")
    range_size = Integer(
        8 * 2**20, config=True, help="Objects larger than this are fetched in ranges this big."
    )
    range_workers = Integer(8, config=True, help="Ranges of one large object fetched at once.")
    mount_protection = Enum(
        ["auto", "bind", "reflink", "copy"],
        "auto",
        config=True,
        help="""How a mount keeps writes out of the shared cache. auto: a read-only bind mount
        where the host allows one (root with CAP_SYS_ADMIN), else reflink clones (the mount
        on a filesystem that clones, e.g. Btrfs or XFS), else hard links that root or the
        cache's owner can write through (each mount reports which it got). bind or reflink:
        only that, or the mount fails saying why. copy: private full copies (always safe;
        costs the disk space and time of a copy).""",
    )

    @default("cache_dir")
    def _default_cache_dir(self) -> str:
        return str(Path(getattr(self.parent, "data_dir", ".")) / "cache")

    def capabilities(self) -> dict[str, str]:
        root = Path(self.cache_dir)
        root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(root).free
        return {"datasets.cache": f"{root} ({free / 2**30:.1f} GiB free)"}

    def store(self) -> ObjectStore:
        return ObjectStore(
            Path(self.cache_dir),
            size_limit=self.size_limit,
            range_size=self.range_size,
            range_workers=self.range_workers,
        )


class ObjectStore:
    """Content fetched once per host, verified, and never visible half-written."""

    def __init__(
        self,
        root: Path,
        *,
        size_limit: int = 0,
        range_size: int = 8 * 2**20,
        range_workers: int = 8,
        retries: int = 3,
    ) -> None:
        self.root = root
        self.size_limit = size_limit
        self.range_size = max(range_size, 1)
        self.range_workers = range_workers
        self.retries = retries
        for sub in ("objects", "tmp", "locks"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._stats_lock = threading.Lock()
        self._pending = {"hits": 0, "misses": 0, "bytes_fetched": 0, "bytes_served": 0}
        atexit.register(self._flush_quietly)

    def _flush_quietly(self) -> None:
        with contextlib.suppress(OSError):
            self.flush_stats()

    # -- names ------------------------------------------------------------------------------
    @staticmethod
    def key_for(source_url: str, entry: Entry) -> str:
        if entry.md5:
            return f"md5-{entry.md5}-{entry.size:x}"
        ident = json.dumps([source_url, entry.path, entry.size, entry.etag, entry.version_id])
        return "id-" + hashlib.sha256(ident.encode()).hexdigest()[:40]

    def path_of(self, key: str) -> Path:
        return self.root / "objects" / key[-2:] / key

    def _sum_path(self, key: str) -> Path:
        return self.root / "objects" / key[-2:] / f"{key}.md5"

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive across threads and processes (flock on a per-object lock file)."""
        with flocked(self.root / "locks" / key[-2:] / key):
            yield

    # -- state ------------------------------------------------------------------------------
    def complete(self, key: str, size: int) -> bool:
        try:
            return self.path_of(key).stat().st_size == size
        except FileNotFoundError:
            return False

    def verify(self, key: str, entry: Entry) -> bool:
        """Does the cached object hash to what was recorded (and to the ETag's MD5)?"""
        path = self.path_of(key)
        try:
            recorded = self._sum_path(key).read_text().strip()
            actual = _md5_file(path)
        except FileNotFoundError:
            return False
        return actual == recorded and (entry.md5 is None or actual == entry.md5)

    def discard(self, key: str) -> None:
        for path in (self.path_of(key), self._sum_path(key)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- fetching ---------------------------------------------------------------------------
    def ensure(
        self,
        source: Source,
        entry: Entry,
        *,
        verify: bool = False,
        cancel: threading.Event | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> tuple[Path, bool]:
        """The cached path of ``entry``, fetching it first unless some process already did.

        Returns (path, fetched_here). Concurrent callers for one object, in any process, wait
        on its lock and find it complete: the source sees one fetch.
        """
        key = self.key_for(source.url, entry)
        path = self.path_of(key)
        if self._usable(key, entry, verify):
            self._hit(path, entry.size)
            return path, False
        with self.lock(key):
            if self._usable(key, entry, verify):
                self._hit(path, entry.size)
                return path, False
            self.discard(key)
            self._fetch(source, entry, key, cancel, on_bytes)
        self._count(misses=1, bytes_fetched=entry.size, bytes_served=entry.size)
        return path, True

    def _usable(self, key: str, entry: Entry, verify: bool) -> bool:
        if not self.complete(key, entry.size):
            return False
        return self.verify(key, entry) if verify else True

    def _hit(self, path: Path, size: int) -> None:
        with contextlib.suppress(OSError):
            os.utime(path)
        self._count(hits=1, bytes_served=size)

    def _fetch(
        self,
        source: Source,
        entry: Entry,
        key: str,
        cancel: threading.Event | None,
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        tmp = self.root / "tmp" / f"{key}.{os.getpid()}.{next(_counter)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        ok = False
        try:
            ranges = [
                (start, min(start + self.range_size, entry.size))
                for start in range(0, entry.size, self.range_size)
            ]

            def fetch_range(bounds: tuple[int, int], digest: list[str] | None = None) -> None:
                start, end = bounds
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"cancelled while fetching {entry.path}")
                data = self._read_with_retries(source, entry, start, end, cancel)
                if len(data) != end - start:
                    raise CorruptObject(
                        f"dataset {source.name!r}: {entry.path} answered {len(data)} bytes for "
                        f"range {start}-{end}; the source is inconsistent, try again"
                    )
                try:
                    write_at(fd, data, start)
                except OSError as err:
                    if err.errno == errno.ENOSPC:
                        raise StorageFull(
                            f"dataset {source.name!r}: the disk under the dataset cache "
                            f"({self.root}) is full while writing {entry.path}; nothing partial "
                            "was kept. Free space or lower LocalDatasetCache.size_limit"
                        ) from err
                    raise
                if digest is not None:  # a one-range object: hash it while it is in memory
                    digest.append(hashlib.md5(data, usedforsecurity=False).hexdigest())
                if on_bytes is not None:
                    on_bytes(len(data))

            digest_of_one: list[str] = []
            if len(ranges) <= 1:
                for bounds in ranges:
                    fetch_range(bounds, digest_of_one)
            else:
                with ThreadPoolExecutor(min(self.range_workers, len(ranges))) as pool:
                    for _ in pool.map(fetch_range, ranges):
                        pass
            # No fsync: readers need atomic visibility (the rename), not durability; after a
            # power loss, `warm --verify` re-hashes what is there against the recorded MD5.
            os.close(fd)
            fd = -1
            digest = digest_of_one[0] if digest_of_one else _md5_file(tmp)
            if entry.md5 is not None and digest != entry.md5:
                raise SourceChanged(
                    f"dataset {source.name!r}: {entry.path} does not match its ETag (MD5 "
                    f"{entry.md5}, got {digest}); it changed at the source or arrived corrupt. "
                    "Its version was not recorded as complete; run refresh and warm again"
                )
            if (
                not source.reads_are_conditional
                and entry.md5 is None
                and source.current(entry) != entry
            ):
                raise SourceChanged(
                    f"dataset {source.name!r}: {entry.path} changed at the source during the "
                    "warm-up; its version was not recorded as complete. Run refresh and warm "
                    "again"
                )
            target = self.path_of(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._sum_path(key).write_text(digest)
            except OSError as err:
                if err.errno == errno.ENOSPC:
                    raise StorageFull(
                        f"dataset {source.name!r}: the disk under the dataset cache is full; "
                        "nothing partial was kept"
                    ) from err
                raise
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            ok = True
        finally:
            if fd >= 0:
                os.close(fd)
            if not ok:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    def _read_with_retries(
        self,
        source: Source,
        entry: Entry,
        start: int,
        end: int,
        cancel: threading.Event | None,
    ) -> bytes:
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                return source.read(entry, start, end)
            except LabrigError as err:
                # Missing, forbidden or changed objects do not get better by asking again.
                if err.reason in ("not_found", "access_denied", "source_changed"):
                    raise
                if attempt == self.retries or (cancel is not None and cancel.is_set()):
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    # -- accounting -------------------------------------------------------------------------
    def _count(self, **deltas: int) -> None:
        with self._stats_lock:
            for name, value in deltas.items():
                self._pending[name] += value

    def flush_stats(self) -> None:
        """Add this process's counts to the host-wide ``stats.json``."""
        with self._stats_lock:
            pending, self._pending = self._pending, dict.fromkeys(self._pending, 0)
        if not any(pending.values()):
            return
        path = self.root / "stats.json"
        with self.lock("stats"):
            current = _read_json(path)
            for name, value in pending.items():
                current[name] = int(current.get(name, 0)) + value
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(current))
            os.replace(tmp, path)

    def objects(self) -> Iterator[tuple[str, os.stat_result]]:
        for sub in (self.root / "objects").iterdir():
            for item in sub.iterdir():
                if item.name.endswith(".md5"):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    yield item.name, item.stat()

    def stats(self) -> dict[str, Any]:
        self.flush_stats()
        count = used = 0
        for _key, st in self.objects():
            count += 1
            used += st.st_size
        counts = _read_json(self.root / "stats.json")
        hits, misses = int(counts.get("hits", 0)), int(counts.get("misses", 0))
        return {
            "path": str(self.root),
            "objects": count,
            "used_bytes": used,
            "size_limit": self.size_limit or None,
            "free_bytes": shutil.disk_usage(self.root).free,
            "hits": hits,
            "misses": misses,
            "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
            "bytes_fetched": int(counts.get("bytes_fetched", 0)),
            "bytes_served": int(counts.get("bytes_served", 0)),
        }

    def evict(self, protected: set[str], limit: int | None = None) -> dict[str, int]:
        """Remove least recently used unprotected objects until under ``limit`` bytes."""
        cap = self.size_limit if limit is None else limit
        if not cap:
            return {"evicted": 0, "freed_bytes": 0}
        items = sorted(self.objects(), key=lambda kv: kv[1].st_mtime)
        used = sum(st.st_size for _k, st in items)
        evicted = freed = 0
        for key, st in items:
            if used <= cap:
                break
            if key in protected:
                continue
            with self.lock(key):
                self.discard(key)
            used -= st.st_size
            freed += st.st_size
            evicted += 1
        return {"evicted": evicted, "freed_bytes": freed}

    def sweep_tmp(self, older_than: float = 3600.0) -> int:
        """Remove temporary files left by fetchers that died (e.g. SIGKILL)."""
        removed = 0
        now = time.time()
        for item in (self.root / "tmp").iterdir():
            pid = _pid_of(item.name)
            if pid is not None and _pid_alive(pid):
                try:
                    # A live fetcher keeps writing; an hour without a write means its pid
                    # was reused after it died.
                    if now - item.stat().st_mtime <= older_than:
                        continue
                except FileNotFoundError:
                    continue  # its fetch finished and renamed it into place meanwhile
            with contextlib.suppress(FileNotFoundError):
                item.unlink()
                removed += 1
        return removed


def _md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(4 * 2**20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _pid_of(name: str) -> int | None:
    parts = name.rsplit(".", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return int(parts[1])
    return None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
