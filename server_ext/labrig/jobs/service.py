"""Job records, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..errors import NotFound
from ..store import Database, Page, PageRequest
from ..store.pagination import paginate
from ..store.tables import Job

STATUSES = ("QUEUED", "STARTING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_json(row: Job) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "notebook_path": row.notebook_path,
        "status": row.status,
        "reason": row.reason,
        "created_at": row.created_at.isoformat(),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
    }


class JobService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            order = [Job.created_at, Job.id]
            return paginate(session, select(Job), order, page, descending=True).map(job_json)

    def get(self, job_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = session.get(Job, job_id)
            if row is None:
                raise NotFound(f"no job with id {job_id!r}; `labrig jobs ls` lists them")
            return job_json(row)
