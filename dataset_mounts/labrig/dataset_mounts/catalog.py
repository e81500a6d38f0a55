"""The dataset catalog."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labrig.errors import NotFound
from labrig.store import Database, Page, PageRequest
from labrig.store.pagination import paginate
from labrig.store.tables import Dataset


def dataset_json(row: Dataset) -> dict[str, Any]:
    # ``options`` may reference credentials: it never leaves the server.
    return {
        "name": row.name,
        "source_url": row.source_url,
        "read_only": row.read_only,
        "include": row.include,
        "version": row.version,
        "created_at": row.created_at.isoformat(),
    }


class DatasetCatalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            return paginate(session, select(Dataset), [Dataset.name], page).map(dataset_json)

    def get(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = session.get(Dataset, name)
            if row is None:
                raise NotFound(f"no dataset named {name!r}; `labrig datasets ls` lists them")
            return dataset_json(row)
