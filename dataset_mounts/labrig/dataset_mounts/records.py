"""Catalog records: a dataset's row (create with validation, read, list, delete, pin), its JSON
shape, and the retry that SQLite's busy upgrades need.

``CatalogRecords`` holds the catalog's database, host cache and in-process warm-ups; the version,
cache, warm-up and mount parts of ``DatasetCatalog`` build on it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Row, or_, select
from sqlalchemy.orm import Session

from labrig import identity
from labrig.errors import AccessDenied, Conflict, InvalidInput, NotFound, Unavailable
from labrig.owners import acting
from labrig.paths import confine_absolute, confine_stored
from labrig.store import Database, Page, PageRequest
from labrig.store.pagination import paginate
from labrig.store.tables import Dataset, DatasetVersion
from labrig.validation import check_fields, check_name

from .cache import DatasetCache, LocalDatasetCache, ObjectStore
from .mount_dirs import remove_tree
from .mount_protect import MountProtector
from .progress import WarmUp
from .source_options import check_credentials_allowed
from .sources import (
    Entry,
    Source,
    check_include,
    check_options,
    check_source_url,
    mask,
    public_options,
)

T = TypeVar("T")

CREATE_FIELDS = {"name", "source_url", "options", "include", "read_only", "pinned", "private"}


#: What ``dataset_json`` reads of a dataset and of its version: the list selects these as plain
#: rows, and never a version's manifest (every file of it, decoded from JSON on each poll).
DATASET_COLUMNS = (
    Dataset.name,
    Dataset.source_url,
    Dataset.options,
    Dataset.read_only,
    Dataset.include,
    Dataset.version,
    Dataset.admin,
    Dataset.pinned,
    Dataset.mount_path,
    Dataset.mounted_by,
    Dataset.created_at,
    Dataset.owner,
    Dataset.private,
)
VERSION_COLUMNS = (
    DatasetVersion.dataset,
    DatasetVersion.version,
    DatasetVersion.files,
    DatasetVersion.bytes,
    DatasetVersion.complete,
)


def dataset_json(
    row: Dataset | Row[Any], version: DatasetVersion | Row[Any] | None = None
) -> dict[str, Any]:
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
        "mounted_by": row.mounted_by,
        "created_at": row.created_at.isoformat(),
        "owner": row.owner,
        "private": bool(row.private),
    }
    if version is not None:
        out.update(files=version.files, bytes=version.bytes, complete=version.complete)
    else:
        out.update(files=None, bytes=None, complete=False)
    return out


def _versions_of_page(session: Session, names: list[str]) -> dict[tuple[str, str], Row[Any]]:
    """The versions (without manifests) of a page of datasets, by (dataset, version). The page
    is a range of names: one range on the key reads them (and those of any hidden dataset
    between them, which nobody looks up), rather than an IN of every name."""
    if not names:
        return {}
    stmt = select(*VERSION_COLUMNS).where(DatasetVersion.dataset.between(names[0], names[-1]))
    return {(v.dataset, v.version): v for v in session.execute(stmt)}


def retry_busy(fn: Callable[[], T]) -> T:
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


class CatalogRecords:
    """Datasets' rows over one database and one host cache."""

    def __init__(
        self,
        db: Database,
        cache: DatasetCache | None = None,
        *,
        local_roots: Sequence[str | Path] | None = None,
    ) -> None:
        self.db = db
        self.cache = cache if cache is not None else LocalDatasetCache()
        #: Where users' file:// sources must lie (``LabrigSettings.local_dataset_roots``);
        #: None: anywhere (a catalog its caller built for itself, as tests do).
        self.local_roots = list(local_roots) if local_roots is not None else None
        self._store: ObjectStore | None = None
        self._warmups: dict[str, WarmUp] = {}
        self._warm_lock = threading.Lock()
        self._admin_synced = False
        self._lazy_bytes = 0
        #: ``LabrigApp.admin_users``: they see and act on every dataset.
        self.admin_users: frozenset[str] = frozenset()

    # -- who may see and change a dataset ---------------------------------------------------

    def acting(self) -> identity.Principal:
        return acting(self.admin_users)

    def _visible_row(self, session: Any, name: str) -> Dataset:
        """The dataset as the acting user may see it: another user's private dataset is not
        there for them (the same answer as a name nobody uses, so names cannot be probed)."""
        row = self._row(session, name)
        if row.private and not self.acting().owns(row.owner):
            raise self._missing(name)
        return row

    def _owned_row(self, session: Any, name: str, action: str) -> Dataset:
        """The dataset, when the acting user may ``action`` it: a user-added dataset's owner or
        an administrator (administrator-defined datasets and ones from before owners were
        recorded are everyone's)."""
        row = self._visible_row(session, name)
        principal = self.acting()
        if not principal.owns(row.owner):
            raise AccessDenied(
                f"{principal.name or 'this user'} may not {action} dataset {name!r}: it was "
                f"added by {row.owner}, and only they or an administrator "
                "(LabrigApp.admin_users) may"
            )
        return row

    def visible(self, name: str) -> None:
        """Raise ``NotFound`` unless the acting user may see dataset ``name``."""
        self.sync_admin()
        with self.db.session() as session:
            self._visible_row(session, name)

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            if not isinstance(self.cache, LocalDatasetCache):
                raise InvalidInput(f"the {self.cache.kind} dataset cache has no local store")
            self._store = self.cache.store()
        return self._store

    @property
    def protector(self) -> MountProtector:
        """Builds, reports and removes this host's mounts over the cache."""
        if not isinstance(self.cache, LocalDatasetCache):
            raise InvalidInput(f"the {self.cache.kind} dataset cache has no local mounts")
        return MountProtector(self.store.root, self.cache.mount_protection)

    def mount_protection(self, mount_path: str | None) -> str | None:
        """What keeps writes through this host's mount out of the cache, in words."""
        if mount_path is None or not isinstance(self.cache, LocalDatasetCache):
            return None
        return self.protector.protection(Path(mount_path))

    def release_mount(self, path: Path) -> None:
        """Remove a mount of this host: its bind mount, its tree and its backing."""
        if isinstance(self.cache, LocalDatasetCache):
            self.protector.release(path)
        else:
            remove_tree(path)

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

    def check_credentials(self, name: str, options: dict[str, Any]) -> None:
        """Refuse a user's dataset naming credentials the administrator did not allow."""
        check_credentials_allowed(
            name,
            options,
            self.cache.allowed_credentials_env,
            self.cache.allowed_credentials_files,
        )

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        self.sync_admin()
        principal = self.acting()
        query = select(*DATASET_COLUMNS)
        if not principal.admin:
            query = query.where(or_(Dataset.private.is_(False), Dataset.owner == principal.name))
        with self.db.session() as session:
            result = paginate(session, query, [Dataset.name], page, columns=True)
            versions = _versions_of_page(session, [r.name for r in result.items])
            items = [dataset_json(r, versions.get((r.name, r.version or ""))) for r in result.items]
        # In-memory, so free to add: the panel's poll sees warm-ups other clients started.
        for item in items:
            item["mount_protection"] = self.mount_protection(item["mount_path"])
            warm = self._warmups.get(item["name"])
            item["warmup"] = warm.as_json() if warm else None
        return Page(items, result.next_page_token)

    @staticmethod
    def _missing(name: str) -> NotFound:
        return NotFound(f"no dataset named {name!r}; `labrig datasets ls` lists them")

    def _row(self, session: Any, name: str) -> Dataset:
        """The dataset, whoever acts (the server's own work: job mounts, warm-up threads)."""
        row = session.get(Dataset, name)
        if row is None:
            raise self._missing(name)
        assert isinstance(row, Dataset)
        return row

    def get(self, name: str) -> dict[str, Any]:
        self.sync_admin()
        with self.db.session() as session:
            row = self._visible_row(session, name)
            version = session.get(DatasetVersion, (name, row.version)) if row.version else None
            out = dataset_json(row, version)
        out["mount_protection"] = self.mount_protection(out["mount_path"])
        out["cached_bytes"] = self._cached_bytes(name)
        warm = self._warmups.get(name)
        out["warmup"] = warm.as_json() if warm else None
        return out

    def create(self, body: dict[str, Any], *, check_source: bool = True) -> dict[str, Any]:
        """Add a user dataset; the source is listed once so bad input fails now, not later."""
        self.sync_admin()
        check_fields(body, CREATE_FIELDS, what="a dataset")
        name = check_name(body.get("name"), what="dataset")
        url = self._confined_source(check_source_url(name, body.get("source_url")))
        options = check_options(name, body.get("options"))
        self.check_credentials(name, options)
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
        private = body.get("private", False)
        if not isinstance(private, bool):
            raise InvalidInput(f"dataset {name!r}: private must be true or false", field="private")
        with self.db.session() as session:
            self._check_name_free(session.get(Dataset, name), name)
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
                    owner=self.acting().name,
                    private=private,
                )
            )
        return self.get(name)

    def _confined_source(self, url: str) -> str:
        """A user's file:// source must lie under the allowed roots, also through symlinks; it
        is stored as the real path, so a symlink changed later cannot move it elsewhere."""
        if self.local_roots is None or urlsplit(url).scheme.lower() != "file":
            return url
        # As the listing reads it: the URL's path as written (not percent-decoded).
        folder = confine_absolute(urlsplit(url).path, self.local_roots, field="source_url")
        return f"file://{folder}" + ("/" if url.endswith("/") else "")

    def mount_roots(self) -> list[Path]:
        """Where host mounts may be: the cache's mount_root and allowed_mount_roots."""
        roots = [self.cache.mount_root, *self.cache.allowed_mount_roots]
        return [Path(os.path.abspath(os.path.expanduser(r))) for r in roots]

    def stored_mount_path(self, name: str, path: str) -> Path:
        """A mount path read back from the database, checked again before anything there is
        removed: strictly inside an allowed mount root (an edited row removes nothing). The
        path is returned as recorded: the mount's own records are kept under that name."""
        try:
            confine_stored(path, self.mount_roots(), field="mount_path")
        except InvalidInput as err:
            raise Conflict(
                f"dataset {name!r}: its recorded mount path is not one labrig may remove: "
                f"{err.message}; nothing was removed",
                field="mount_path",
            ) from err
        return Path(path)

    def _check_name_free(self, row: Dataset | None, name: str) -> None:
        if row is None:
            return
        if row.private and not self.acting().owns(row.owner):
            # Names are one namespace: say it is taken, and nothing of the dataset behind it.
            raise Conflict(f"the dataset name {name!r} is taken; pick another", field="name")
        raise Conflict(
            f"a dataset named {name!r} already exists; pick another name or remove it "
            f"first with `labrig datasets rm {name}`",
            field="name",
        )

    def delete(self, name: str) -> None:
        with self.db.session() as session:
            row = self._owned_row(session, name, "remove")
            if row.admin:
                raise Conflict(
                    f"dataset {name!r} is defined by the administrator (DatasetCache.datasets) "
                    "and cannot be removed here"
                )
            mount_path = row.mount_path
        mount = self.stored_mount_path(name, mount_path) if mount_path else None
        warm = self._warmups.get(name)
        if warm is not None and warm.running:
            warm.cancel.set()
        if mount is not None:
            self.release_mount(mount)
        with self.db.session() as session:
            for version in session.scalars(
                select(DatasetVersion).where(DatasetVersion.dataset == name)
            ):
                session.delete(version)
            session.delete(self._row(session, name))

    def set_pinned(self, name: str, pinned: bool) -> dict[str, Any]:
        with self.db.session() as session:
            self._owned_row(session, name, "pin or unpin").pinned = pinned
        return self.get(name)

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
