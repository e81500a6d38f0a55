"""The dataset catalog: datasets, their pinned versions, warm-ups, mounts and the cache.

One ``DatasetCatalog`` backs the REST API, the CLI and the Python API (``labrig.datasets``).
Warm-ups run on worker threads of the process that starts them (never on the event loop); the
cache under them is shared by every process on the host, so concurrent warm-ups and lazy reads
of one object fetch it once.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from labrig.errors import Conflict, InvalidInput, LabrigError, NotFound, Unavailable
from labrig.store import Database, Page, PageRequest
from labrig.store.pagination import paginate
from labrig.store.tables import Dataset, DatasetVersion
from labrig.validation import check_fields, check_name

from .cache import Cancelled, DatasetCache, LocalDatasetCache, ObjectStore
from .sources import (
    Entry,
    Source,
    check_include,
    check_options,
    check_source_url,
    diff,
    manifest_version,
    mask,
    public_options,
)

T = TypeVar("T")

CREATE_FIELDS = {"name", "source_url", "options", "include", "read_only", "pinned"}


def env_var(name: str) -> str:
    """``LABRIG_DATASET_<NAME>``: upper case, anything but letters and digits as ``_``."""
    return "LABRIG_DATASET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def dataset_json(row: Dataset, version: DatasetVersion | None = None) -> dict[str, Any]:
    # Credentials never leave the server: options say only where they come from.
    out: dict[str, Any] = {
        "name": row.name,
        "source_url": mask(row.source_url),
        "options": public_options(row.options or {}),
        "read_only": row.read_only,
        "include": row.include,
        "version": row.version,
        "admin": bool(row.admin),
        "pinned": bool(row.pinned),
        "mount_path": row.mount_path,
        "created_at": row.created_at.isoformat(),
    }
    if version is not None:
        out.update(files=version.files, bytes=version.bytes, complete=version.complete)
    else:
        out.update(files=None, bytes=None, complete=False)
    return out


@dataclass
class WarmUp:
    """Progress of one warm-up; ``as_json`` is what the REST API and the CLI show."""

    id: str
    dataset: str
    version: str | None = None
    state: str = "listing"  # listing, running, succeeded, failed, cancelled
    files_total: int = 0
    files_done: int = 0
    files_cached: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    bytes_fetched: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        return self.state in ("listing", "running")

    def add_bytes(self, n: int, fetched: bool = True) -> None:
        with self.lock:
            self.bytes_done += n
            if fetched:
                self.bytes_fetched += n

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            out = {
                f.name: getattr(self, f.name)
                for f in fields(self)
                if f.name not in ("cancel", "lock", "started_at")
            }
        end = self.finished_at or time.time()
        elapsed = max(end - self.started_at, 1e-6)
        throughput = self.bytes_fetched / elapsed
        remaining = max(self.bytes_total - self.bytes_done, 0)
        out["elapsed_seconds"] = round(elapsed, 3)
        out["throughput_bytes_per_second"] = round(throughput, 1)
        out["eta_seconds"] = (
            round(remaining / throughput, 1) if self.running and throughput > 0 else None
        )
        out["started_at"] = self.started_at
        out["percent"] = (
            round(100.0 * self.bytes_done / self.bytes_total, 1) if self.bytes_total else 0.0
        )
        return out


class DatasetCatalog:
    """Datasets, versions, warm-ups and mounts over one database and one host cache."""

    def __init__(self, db: Database, cache: DatasetCache | None = None) -> None:
        self.db = db
        self.cache = cache if cache is not None else LocalDatasetCache()
        self._store: ObjectStore | None = None
        self._warmups: dict[str, WarmUp] = {}
        self._warm_lock = threading.Lock()
        self._admin_synced = False
        self._lazy_bytes = 0

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            if not isinstance(self.cache, LocalDatasetCache):
                raise InvalidInput(f"the {self.cache.kind} dataset cache has no local store")
            self._store = self.cache.store()
        return self._store

    # -- catalog ----------------------------------------------------------------------------
    def sync_admin(self) -> None:
        """Bring admin-defined datasets (``DatasetCache.datasets``) into the catalog."""
        if self._admin_synced:
            return
        self._admin_synced = True
        for spec in self.cache.datasets:
            name = check_name(spec.get("name"), what="admin dataset")
            with self.db.session() as session:
                row = session.get(Dataset, name)
                url = check_source_url(name, spec.get("source_url"))
                options = check_options(name, spec.get("options"))
                include = check_include(name, spec.get("include"))
                if row is None:
                    row = Dataset(name=name, source_url=url, options=options, admin=True)
                    session.add(row)
                elif (row.source_url, row.options, row.include) != (url, options, include):
                    row.version = None  # a changed definition is a different dataset
                row.source_url, row.options, row.include = url, options, include
                row.read_only = bool(spec.get("read_only", True))
                row.admin = True

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        self.sync_admin()
        with self.db.session() as session:
            result = paginate(session, select(Dataset), [Dataset.name], page)
            versions = {
                (v.dataset, v.version): v
                for v in session.scalars(
                    select(DatasetVersion).where(
                        DatasetVersion.dataset.in_([r.name for r in result.items])
                    )
                )
            }
            items = [dataset_json(r, versions.get((r.name, r.version or ""))) for r in result.items]
        return Page(items, result.next_page_token)

    def _row(self, session: Any, name: str) -> Dataset:
        row = session.get(Dataset, name)
        if row is None:
            raise NotFound(f"no dataset named {name!r}; `labrig datasets ls` lists them")
        assert isinstance(row, Dataset)
        return row

    def get(self, name: str) -> dict[str, Any]:
        self.sync_admin()
        with self.db.session() as session:
            row = self._row(session, name)
            version = session.get(DatasetVersion, (name, row.version)) if row.version else None
            out = dataset_json(row, version)
        out["cached_bytes"] = self._cached_bytes(name)
        warm = self._warmups.get(name)
        out["warmup"] = warm.as_json() if warm else None
        return out

    def create(self, body: dict[str, Any], *, check_source: bool = True) -> dict[str, Any]:
        """Add a user dataset; the source is listed once so bad input fails now, not later."""
        self.sync_admin()
        check_fields(body, CREATE_FIELDS, what="a dataset")
        name = check_name(body.get("name"), what="dataset")
        url = check_source_url(name, body.get("source_url"))
        options = check_options(name, body.get("options"))
        include = check_include(name, body.get("include"))
        read_only = body.get("read_only", True)
        if read_only is not True:
            raise InvalidInput(
                f"dataset {name!r}: read_only must be true: mounts are read-only views of the "
                "shared cache",
                field="read_only",
            )
        pinned = body.get("pinned", False)
        if not isinstance(pinned, bool):
            raise InvalidInput(f"dataset {name!r}: pinned must be true or false", field="pinned")
        with self.db.session() as session:
            if session.get(Dataset, name) is not None:
                raise Conflict(
                    f"a dataset named {name!r} already exists; pick another name or remove it "
                    f"first with `labrig datasets rm {name}`",
                    field="name",
                )
        if check_source:
            Source(name, url, options, include).list()
        with self.db.session() as session:
            if session.get(Dataset, name) is not None:
                raise Conflict(f"a dataset named {name!r} already exists", field="name")
            session.add(
                Dataset(
                    name=name,
                    source_url=url,
                    options=options,
                    include=include,
                    read_only=True,
                    pinned=pinned,
                )
            )
        return self.get(name)

    def delete(self, name: str) -> None:
        with self.db.session() as session:
            row = self._row(session, name)
            if row.admin:
                raise Conflict(
                    f"dataset {name!r} is defined by the administrator (DatasetCache.datasets) "
                    "and cannot be removed here"
                )
            mount_path = row.mount_path
        warm = self._warmups.get(name)
        if warm is not None and warm.running:
            warm.cancel.set()
        if mount_path:
            _remove_tree(Path(mount_path))
        with self.db.session() as session:
            for version in session.scalars(
                select(DatasetVersion).where(DatasetVersion.dataset == name)
            ):
                session.delete(version)
            session.delete(self._row(session, name))

    def set_pinned(self, name: str, pinned: bool) -> dict[str, Any]:
        with self.db.session() as session:
            self._row(session, name).pinned = pinned
        return self.get(name)

    # -- versions ---------------------------------------------------------------------------
    def source(self, name: str) -> Source:
        with self.db.session() as session:
            row = self._row(session, name)
            return Source(name, row.source_url, dict(row.options or {}), row.include)

    def manifest(self, name: str, version: str | None = None) -> tuple[str, list[Entry]]:
        """The pinned (or given) version's entries; the first call lists the source."""
        found = self._recorded_manifest(name, version)
        if found is not None:
            return found
        # A cold dataset opened by many processes at once is listed by one of them; the others
        # wait and read its manifest (listing an HTTP source asks the server about every file).
        with self._listing_lock(name):
            found = self._recorded_manifest(name, version)
            if found is not None:
                return found
            source = self.source(name)
            entries = source.list()
            version = self._record_version(name, source.url, source.include, entries)

            def pin() -> str | None:
                with self.db.session() as session:
                    row = self._row(session, name)
                    if row.version is None:
                        row.version = version
                    return row.version

            pinned = _retry_busy(pin)
        return (version, entries) if pinned == version else self.manifest(name, pinned)

    def _recorded_manifest(self, name: str, version: str | None) -> tuple[str, list[Entry]] | None:
        with self.db.session() as session:
            row = self._row(session, name)
            version = version or row.version
            if not version:
                return None
            v = session.get(DatasetVersion, (name, version))
            if v is None:
                raise NotFound(f"dataset {name!r} has no version {version!r}")
            return version, [Entry.from_json(e) for e in v.manifest]

    def _listing_lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        if isinstance(self.cache, LocalDatasetCache):
            return self.store.lock(f"list-{name}")
        return contextlib.nullcontext()

    def _record_version(
        self, name: str, url: str, include: str | None, entries: list[Entry]
    ) -> str:
        version = manifest_version(url, include, entries)

        def record() -> None:
            # Several processes may list a cold dataset at once: the same manifest, one row.
            with contextlib.suppress(IntegrityError), self.db.session() as session:
                if session.get(DatasetVersion, (name, version)) is None:
                    session.add(
                        DatasetVersion(
                            dataset=name,
                            version=version,
                            manifest=[e.as_json() for e in entries],
                            files=len(entries),
                            bytes=sum(e.size for e in entries),
                            complete=False,
                        )
                    )

        _retry_busy(record)
        return version

    def versions_of(self, names: Iterable[str]) -> dict[str, str]:
        """name -> pinned version (listing the source for a dataset never warmed)."""
        return {name: self.manifest(name)[0] for name in names}

    def refresh(self, name: str) -> dict[str, Any]:
        """List the source again and say what changed; the pin moves only on ``confirm``."""
        source = self.source(name)
        entries = source.list()
        new = self._record_version(name, source.url, source.include, entries)
        with self.db.session() as session:
            current = self._row(session, name).version
        old_entries = self.manifest(name, current)[1] if current else []
        changes = diff(old_entries, entries)
        return {
            "dataset": name,
            "current_version": current,
            "new_version": new,
            "changed": new != current,
            "added": len(changes["added"]),
            "removed": len(changes["removed"]),
            "modified": len(changes["modified"]),
            "examples": {k: v[:5] for k, v in changes.items()},
            "files": len(entries),
            "bytes": sum(e.size for e in entries),
        }

    def confirm_refresh(self, name: str, version: Any) -> dict[str, Any]:
        if not isinstance(version, str) or not version:
            raise InvalidInput(
                f"dataset {name!r}: confirm needs the new_version that refresh returned",
                field="version",
            )
        with self.db.session() as session:
            row = self._row(session, name)
            if session.get(DatasetVersion, (name, version)) is None:
                raise NotFound(
                    f"dataset {name!r} has no version {version!r}; run refresh first",
                    field="version",
                )
            row.version = version
        return self.get(name)

    # -- cache ------------------------------------------------------------------------------
    def _cached_bytes(self, name: str) -> int:
        if not isinstance(self.cache, LocalDatasetCache):
            return 0
        with self.db.session() as session:
            row = self._row(session, name)
            v = session.get(DatasetVersion, (name, row.version)) if row.version else None
            if v is None:
                return 0
            url, manifest = row.source_url, v.manifest
        store = self.store
        total = 0
        for raw in manifest:
            e = Entry.from_json(raw)
            if store.complete(store.key_for(url, e), e.size):
                total += e.size
        return total

    def protected_keys(self) -> set[str]:
        """Objects of pinned or mounted datasets' pinned versions: never evicted."""
        keys: set[str] = set()
        with self.db.session() as session:
            rows = session.scalars(
                select(Dataset).where(or_(Dataset.pinned, Dataset.mount_path.is_not(None)))
            ).all()
            for row in rows:
                v = session.get(DatasetVersion, (row.name, row.version)) if row.version else None
                for raw in v.manifest if v else []:
                    keys.add(ObjectStore.key_for(row.source_url, Entry.from_json(raw)))
        return keys

    def cache_stats(self) -> dict[str, Any]:
        return self.store.stats()

    def evict(self, limit: int | None = None) -> dict[str, int]:
        return self.store.evict(self.protected_keys(), limit)

    # -- warm-ups ---------------------------------------------------------------------------
    def start_warm(self, name: str, *, verify: bool = False) -> dict[str, Any]:
        """Start warming ``name`` on a background thread (one warm-up per dataset at a time)."""
        with self.db.session() as session:
            self._row(session, name)
        with self._warm_lock:
            current = self._warmups.get(name)
            if current is not None and current.running:
                return current.as_json()
            warm = WarmUp(id=uuid.uuid4().hex[:12], dataset=name)
            self._warmups[name] = warm
        thread = threading.Thread(
            target=self._run_warm_quietly, args=(warm, verify), name=f"warm-{name}", daemon=True
        )
        thread.start()
        return warm.as_json()

    def warm(
        self,
        name: str,
        *,
        verify: bool = False,
        on_progress: Callable[[WarmUp], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Warm ``name`` in this thread (the CLI and Python API); raises on failure."""
        warm = WarmUp(id=uuid.uuid4().hex[:12], dataset=name)
        if cancel is not None:
            warm.cancel = cancel
        with self._warm_lock:
            self._warmups[name] = warm
        self._run_warm(warm, verify, on_progress)
        return warm.as_json()

    def warm_status(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            self._row(session, name)
        warm = self._warmups.get(name)
        if warm is None:
            return {"id": None, "dataset": name, "state": "idle"}
        return warm.as_json()

    def cancel_warm(self, name: str) -> dict[str, Any]:
        warm = self._warmups.get(name)
        if warm is None or not warm.running:
            raise Conflict(f"dataset {name!r} has no warm-up running")
        warm.cancel.set()
        return warm.as_json()

    def _run_warm_quietly(self, warm: WarmUp, verify: bool) -> None:
        with contextlib.suppress(LabrigError):
            self._run_warm(warm, verify, None)

    def _run_warm(
        self, warm: WarmUp, verify: bool, on_progress: Callable[[WarmUp], None] | None
    ) -> None:
        try:
            self._warm_body(warm, verify, on_progress)
        except Cancelled as err:
            warm.state, warm.error = "cancelled", err.message
            raise
        except LabrigError as err:
            warm.state, warm.error = "failed", err.message
            raise
        except Exception as err:
            warm.state = "failed"
            warm.error = mask(f"the warm-up failed: {type(err).__name__}: {err}")
            raise LabrigError(warm.error) from err
        finally:
            warm.finished_at = time.time()
            with contextlib.suppress(Exception):
                self.store.flush_stats()
            if on_progress is not None:
                on_progress(warm)

    def _warm_body(
        self, warm: WarmUp, verify: bool, on_progress: Callable[[WarmUp], None] | None
    ) -> None:
        name = warm.dataset
        source = self.source(name)
        version, entries = self.manifest(name)
        warm.version = version
        warm.files_total = len(entries)
        warm.bytes_total = sum(e.size for e in entries)
        warm.state = "running"
        store = self.store
        store.sweep_tmp()

        def one(entry: Entry) -> None:
            if warm.cancel.is_set():
                raise Cancelled(f"the warm-up of {name!r} was cancelled")
            _path, fetched = store.ensure(
                source,
                entry,
                verify=verify,
                cancel=warm.cancel,
                on_bytes=lambda n: warm.add_bytes(n),
            )
            with warm.lock:
                warm.files_done += 1
                if not fetched:
                    warm.files_cached += 1
            if not fetched:
                warm.add_bytes(entry.size, fetched=False)

        workers = getattr(self.cache, "workers", 16)
        with ThreadPoolExecutor(max(1, workers)) as pool:
            futures = [pool.submit(one, e) for e in entries]
            while True:
                done, pending = wait(futures, timeout=0.25, return_when=FIRST_EXCEPTION)
                if on_progress is not None:
                    on_progress(warm)
                failed = [f for f in done if f.exception() is not None]
                if failed or not pending:
                    break
            if failed:
                user_cancelled = warm.cancel.is_set()
                warm.cancel.set()  # stop the rest; finished objects stay cached
                for f in pending:
                    f.cancel()
                wait(futures)
                errors = [
                    e for f in futures if not f.cancelled() and (e := f.exception()) is not None
                ]
                # Report the root cause, not the cancellations it triggered in siblings.
                root = [e for e in errors if not isinstance(e, Cancelled)]
                first = errors[0] if user_cancelled or not root else root[0]
                if isinstance(first, LabrigError):
                    raise first
                raise source.error(first, "warming")

        def mark_complete() -> None:
            with self.db.session() as session:
                v = session.get(DatasetVersion, (name, version))
                if v is not None:
                    v.complete = True

        _retry_busy(mark_complete)
        warm.state = "succeeded"
        with contextlib.suppress(LabrigError):
            self.evict()

    # -- mounts -----------------------------------------------------------------------------
    def _roots(self) -> list[Path]:
        roots = [self.cache.mount_root, *self.cache.allowed_mount_roots]
        return [Path(os.path.abspath(os.path.expanduser(r))) for r in roots]

    def _mount_target(self, name: str, path: str | None) -> Path:
        roots = self._roots()
        if path is None:
            target = roots[0] / name
        else:
            expanded = os.path.expanduser(path)
            if not os.path.isabs(expanded):
                raise InvalidInput(
                    f"dataset {name!r}: mount path {path!r} must be absolute", field="path"
                )
            target = Path(os.path.normpath(expanded))
        root = next((r for r in roots if target.is_relative_to(r) and target != r), None)
        if root is None:
            raise InvalidInput(
                f"dataset {name!r}: mount path {str(target)!r} is outside the allowed roots "
                f"({', '.join(map(str, roots))}); pick a path under one of them or ask the "
                "administrator to add one to DatasetCache.allowed_mount_roots",
                field="path",
            )
        _check_no_symlinks(name, root, target)
        return target

    def mount(self, name: str, path: str | None = None) -> dict[str, Any]:
        """Build a read-only directory of links into the cache and remember it."""
        with self.db.session() as session:
            row = self._row(session, name)
            previous = row.mount_path
        target = self._mount_target(name, path)
        if previous and Path(previous) != target:
            self.unmount(name)
            previous = None
        self._build_mount(name, target, replace=previous is not None)
        with self.db.session() as session:
            self._row(session, name).mount_path = str(target)
        version, _ = self.manifest(name)
        return {
            "name": name,
            "path": str(target),
            "version": version,
            "env": {env_var(name): str(target)},
        }

    def unmount(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._row(session, name)
            path, row.mount_path = row.mount_path, None
        if path is None:
            raise Conflict(f"dataset {name!r} is not mounted")
        _remove_tree(Path(path))
        return self.get(name)

    def mount_for_job(self, names: list[str], target_root: Path) -> dict[str, str]:
        """Read-only mounts of warmed datasets under ``target_root``, and their env vars."""
        env: dict[str, str] = {}
        target_root = Path(target_root)
        target_root.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = target_root / name
            _check_no_symlinks(name, target_root, target)
            self._build_mount(name, target, replace=True)
            env[env_var(name)] = str(target)
        return env

    def mounted_names(self) -> list[str]:
        """Datasets mounted on this host, by name (what a notebook's kernel sees)."""
        with self.db.session() as session:
            query = select(Dataset.name).where(Dataset.mount_path.is_not(None))
            return sorted(session.scalars(query))

    def kernel_env(self, notebook_path: str | None = None) -> dict[str, str]:
        """``LABRIG_DATASET_<NAME>`` for every mounted dataset (for the kernel provisioner)."""
        with self.db.session() as session:
            rows = session.scalars(select(Dataset).where(Dataset.mount_path.is_not(None))).all()
            return {env_var(r.name): str(r.mount_path) for r in rows}

    def _build_mount(self, name: str, target: Path, *, replace: bool) -> None:
        with self.db.session() as session:
            row = self._row(session, name)
            url, version = row.source_url, row.version
            v = session.get(DatasetVersion, (name, version)) if version else None
            manifest = [Entry.from_json(e) for e in v.manifest] if v else None
        if not manifest:
            raise Conflict(
                f"dataset {name!r} is not warmed yet; run `labrig datasets warm {name}` (or "
                "Warm in the panel) before mounting it, or read it lazily via labrig://"
                f"{name}/",
            )
        store = self.store
        missing = [e.path for e in manifest if not store.complete(store.key_for(url, e), e.size)]
        if missing:
            raise Conflict(
                f"dataset {name!r}: {len(missing)} of {len(manifest)} files are not in the cache "
                f"(e.g. {missing[0]}); run `labrig datasets warm {name}` first",
            )
        if target.exists() and not replace:
            raise Conflict(
                f"dataset {name!r}: {target} already exists; unmount what is there or pick "
                "another path",
                field="path",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{target.name}.labrig-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            dirs: set[Path] = {staging}
            for e in manifest:
                dest = staging / e.path
                if not dest.resolve().is_relative_to(staging.resolve()):
                    raise InvalidInput(f"dataset {name!r}: unsafe file name {e.path!r}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dirs.update(p for p in dest.parents if p.is_relative_to(staging))
                src = store.path_of(store.key_for(url, e))
                try:
                    os.link(src, dest)
                except OSError:
                    os.symlink(src, dest)
            for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
                os.chmod(d, 0o555)
            old = None
            if target.exists():
                old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
                os.rename(target, old)
            os.rename(staging, target)
            if old is not None:
                _remove_tree(old)
        except BaseException:
            _remove_tree(staging)
            raise

    # -- lazy reads -------------------------------------------------------------------------
    def open_path(self, name: str, rel: str) -> Path:
        """The cached file behind ``labrig://<name>/<rel>``, fetched on first use."""
        version, entries = self.manifest(name)
        entry = next((e for e in entries if e.path == rel.strip("/")), None)
        if entry is None:
            raise NotFound(f"dataset {name!r} (version {version}) has no file {rel!r}")
        store = self.store
        path, fetched = store.ensure(self.source(name), entry)
        if fetched and store.size_limit:
            # Lazy reads of a dataset larger than the cache: keep under the cap as we go
            # (every tenth of the cap fetched), sparing the file just opened.
            self._lazy_bytes += entry.size
            if self._lazy_bytes >= store.size_limit // 10:
                self._lazy_bytes = 0
                store.evict(self.protected_keys() | {path.name})
        return path


def _retry_busy(fn: Callable[[], T]) -> T:
    """Run a read-then-write transaction again when SQLite refused to upgrade its lock.

    In WAL mode a transaction that read before another process wrote gets SQLITE_BUSY at once
    (no busy wait) when it tries to write; starting over is the remedy.
    """
    for attempt in range(8):
        try:
            return fn()
        except Unavailable:
            if attempt == 7:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _check_no_symlinks(name: str, root: Path, target: Path) -> None:
    current = root
    for part in target.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise InvalidInput(
                f"dataset {name!r}: mount path {target} goes through the symlink {current}; "
                "use a real directory",
                field="path",
            )
    if root.exists() and target.exists() and not target.resolve().is_relative_to(root.resolve()):
        raise InvalidInput(f"dataset {name!r}: mount path {target} leaves {root}", field="path")


def _remove_tree(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    for dirpath, _dirs, _files in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(dirpath, 0o755)
    shutil.rmtree(path, ignore_errors=True)
