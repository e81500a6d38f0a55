"""Resource requests saved per notebook path."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..errors import NotFound
from ..store import Database, Page, PageRequest
from ..store.pagination import paginate
from ..store.tables import ResourceRequest


def resource_request_json(row: ResourceRequest) -> dict[str, Any]:
    return {
        "notebook_path": row.notebook_path,
        "profile": row.profile,
        "cpus": row.cpus,
        "memory": row.memory,
        "gpus": row.gpus,
        "gpu_type": row.gpu_type,
        "disk": row.disk,
        "updated_at": row.updated_at.isoformat(),
    }


class ResourceRequests:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            rows = paginate(session, select(ResourceRequest), [ResourceRequest.notebook_path], page)
            return rows.map(resource_request_json)

    def get(self, notebook_path: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = session.get(ResourceRequest, notebook_path)
            if row is None:
                raise NotFound(
                    f"no resources have been requested for {notebook_path!r}; its kernel runs "
                    "with the server's defaults",
                    field="notebook_path",
                )
            return resource_request_json(row)
