"""The host cache as the catalog sees it: lazy reads behind ``labrig://``, which objects
eviction must spare (pinned or mounted datasets' versions), and eviction itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from labrig.errors import NotFound
from labrig.store.tables import Dataset, DatasetVersion

from .cache import ObjectStore
from .sources import Entry
from .versions import CatalogVersions


class CatalogCacheReads(CatalogVersions):
    """Reads through the host cache and keeping it under its size limit."""

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

    def open_path(self, name: str, rel: str) -> Path:
        """The cached file behind ``labrig://<name>/<rel>``, fetched on first use."""
        self.visible(name)
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
