"""Dataset versions: the manifest a listing of the source records, the pin that names it, and
refresh (list again, show the difference, move the pin on confirm)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError

from labrig.errors import InvalidInput, NotFound
from labrig.store.tables import DatasetVersion

from .cache import LocalDatasetCache
from .records import CatalogRecords, retry_busy
from .sources import Entry, Source, diff, manifest_version


class CatalogVersions(CatalogRecords):
    """Each dataset's versions; a version is named by its manifest's hash."""

    def source(self, name: str) -> Source:
        self.sync_admin()  # an admin-defined dataset may be read before anything listed it
        with self.db.session() as session:
            row = self._row(session, name)
            options, admin = dict(row.options or {}), row.admin
            url, include = row.source_url, row.include
        if not admin:
            # Checked again at each use: an allow-list narrowed since the dataset was added holds.
            self.check_credentials(name, options)
        return Source(name, url, options, include)

    def manifest(self, name: str, version: str | None = None) -> tuple[str, list[Entry]]:
        """The pinned (or given) version's entries; the first call lists the source."""
        self.sync_admin()
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

            pinned = retry_busy(pin)
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

        retry_busy(record)
        return version

    def versions_of(self, names: Iterable[str]) -> dict[str, str]:
        """name -> pinned version (listing the source for a dataset never warmed)."""
        return {name: self.manifest(name)[0] for name in names}

    def refresh(self, name: str) -> dict[str, Any]:
        """List the source again and say what changed; the pin moves only on ``confirm``."""
        self.sync_admin()
        with self.db.session() as session:
            self._owned_row(session, name, "refresh")
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
            row = self._owned_row(session, name, "move the pinned version of")
            if session.get(DatasetVersion, (name, version)) is None:
                raise NotFound(
                    f"dataset {name!r} has no version {version!r}; run refresh first",
                    field="version",
                )
            row.version = version
        return self.get(name)
