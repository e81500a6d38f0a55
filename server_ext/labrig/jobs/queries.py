"""Reading jobs: the list, one job with per-rank progress, logs, metrics, the output notebook,
and the change events the live view streams (SSE)."""

from __future__ import annotations

import builtins
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select

from ..errors import InvalidInput, NotFound
from ..paths import confine_relative
from ..store import Page, PageRequest
from ..store.pagination import _decode as decode_token
from ..store.pagination import paginate
from ..store.tables import Job
from .base import JobServiceBase, world_size
from .runtime import FINAL, STATUSES, utcnow

LOG_CHUNK = 256 * 1024


#: How long an ended job's event stream waits for the job to be finalized (its outputs
#: registered) before it ends anyway.
FINALIZE_GRACE = 30.0


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


#: What ``job_json`` reads: the list selects these as plain rows, since building ORM objects
#: (and decoding the handle and GPU grants, which it does not show) cost more than the query.
JSON_COLUMNS = (
    Job.id,
    Job.name,
    Job.notebook_path,
    Job.status,
    Job.reason,
    Job.backend,
    Job.priority,
    Job.spec,
    Job.created_at,
    Job.starting_at,
    Job.started_at,
    Job.finished_at,
    Job.snapshot_sha256,
    Job.dataset_versions,
    Job.output_path,
    Job.schedule_id,
    Job.rerun_of,
    Job.owner,
    Job.finalized,
)


#: The list's statement, built once: constructing a select of 18 columns costs some 5% of the
#: list's CPU (statements are immutable: each request adds its conditions to a copy).
LIST_QUERY = select(*JSON_COLUMNS)


def job_json(row: Job | Row[Any]) -> dict[str, Any]:
    """A job as the API shows it, from its ORM row or a row of ``JSON_COLUMNS``."""
    spec = row.spec or {}
    return {
        "id": row.id,
        "name": row.name,
        "notebook_path": row.notebook_path,
        "status": row.status,
        "reason": row.reason,
        "backend": row.backend,
        "priority": row.priority,
        "world_size": world_size(spec),
        "created_at": row.created_at.isoformat(),
        "starting_at": iso(row.starting_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "snapshot_sha256": row.snapshot_sha256,
        "dataset_versions": dict(row.dataset_versions or {}),
        "output_path": row.output_path,
        "schedule_id": row.schedule_id,
        "rerun_of": row.rerun_of,
        "owner": row.owner,
        "finalized": bool(row.finalized),
        "spec": spec,
    }


class JobQueries(JobServiceBase):
    def list(self, page: PageRequest, status: str | None = None) -> Page[dict[str, Any]]:
        stmt = self.visible(LIST_QUERY, Job)
        if status:
            if status not in STATUSES:
                raise InvalidInput(
                    f"status must be one of {', '.join(STATUSES)}, got {status!r}", field="status"
                )
            stmt = stmt.where(Job.status == status)
        order = [Job.created_at, Job.id]
        if page.page_token:
            # A plain range on the indexed column lets SQLite seek instead of scanning the
            # OR-form keyset condition, so page 200 costs what page 1 does.
            stmt = stmt.where(Job.created_at <= decode_token(page.page_token, order)[0])
        with self.db.session() as session:
            return paginate(session, stmt, order, page, descending=True, columns=True).map(job_json)

    def get(self, job_id: str) -> dict[str, Any]:
        row = self._row(job_id)
        value = job_json(row)
        value["ranks"] = self.progress(row)
        return value

    def progress(self, row: Job) -> builtins.list[dict[str, Any]]:
        """Per rank: the cell it is on (of how many), how far it got, and for how long."""
        now = utcnow().timestamp()
        ranks = []
        for report in self.backend.progress(self.ref(row)):
            last = report.last
            cell, total = last.get("cell"), last.get("of")
            done = (cell + 1 if last.get("state") == "done" else cell) if cell is not None else 0
            if last.get("finished"):
                done = total = total or done
            ranks.append(
                {
                    "rank": report.rank,
                    "cell": cell,
                    "cells_done": done,
                    "cells": total,
                    "state": "finished" if last.get("finished") else last.get("state"),
                    "updated_at": last.get("t"),
                    "elapsed": round(now - row.started_at.timestamp(), 1)
                    if row.started_at and row.status == "RUNNING"
                    else None,
                }
            )
        return ranks

    def logs(
        self, job_id: str, rank: int = 0, offset: int = 0, limit: int = LOG_CHUNK
    ) -> dict[str, Any]:
        row = self._row(job_id)
        world = world_size(row.spec)
        if not 0 <= rank < world:
            raise InvalidInput(f"rank must be from 0 to {world - 1}", field="rank")
        if offset < 0:
            raise InvalidInput("offset must be 0 or more", field="offset")
        chunk = self.backend.logs(self.ref(row), rank, offset, limit)
        return {
            "rank": rank,
            "offset": offset,
            "next_offset": chunk.next_offset,
            "size": chunk.size,
            "text": chunk.data.decode("utf-8", errors="replace"),
            "done": row.status in FINAL and chunk.next_offset >= chunk.size,
        }

    def metrics(self, job_id: str) -> dict[str, Any]:
        row = self._row(job_id)
        ref = self.ref(row)
        series: dict[str, builtins.list[dict[str, Any]]] = {}
        for rank in range(ref.world_size):
            points, _ = self.backend.metrics(ref, rank, 0)
            for point in points:
                series.setdefault(str(point.get("name")), []).append(
                    {"step": point.get("step"), "value": point.get("value"), "rank": rank}
                )
        return {"job_id": job_id, "metrics": series}

    def output_notebook(self, job_id: str) -> Path:
        row = self._row(job_id)
        if not row.output_path:
            raise NotFound(f"job {job_id} has no output notebook yet", field="job_id")
        # Read back from the database: checked again, so an edited row reads nothing outside.
        path = confine_relative(row.output_path, self.root_dir, field="output_path")
        if not self.backend.fetch_output(self.ref(row), path):
            raise NotFound(f"job {job_id} has no output notebook yet", field="job_id")
        return path

    # --- events (for SSE) ----------------------------------------------------------------------

    def events(
        self, job_id: str, cursor: dict[str, Any]
    ) -> tuple[builtins.list[tuple[str, Any]], bool]:
        """What changed since ``cursor`` (updated in place): status, per-rank progress, new log
        lines and new metric points. The second value is True once the job is final, finalized
        (what it registered is in the registry, just after its final status) and drained."""
        row = self._row(job_id)
        out: builtins.list[tuple[str, Any]] = []
        ref = self.ref(row)
        if cursor.get("status") != (row.status, row.reason, row.finalized):
            cursor["status"] = (row.status, row.reason, row.finalized)
            out.append(("status", job_json(row)))
        progress = self.progress(row)
        if cursor.get("progress") != progress:
            cursor["progress"] = progress
            out.append(("progress", progress))
        drained = True
        for rank in range(ref.world_size):
            chunk = self.backend.logs(ref, rank, cursor.get(f"log{rank}", 0), 64 * 1024)
            if chunk.data:
                cursor[f"log{rank}"] = chunk.next_offset
                drained = False
                text = chunk.data.decode("utf-8", errors="replace")
                out.append(("log", {"rank": rank, "text": text, "offset": chunk.next_offset}))
            points, offset = self.backend.metrics(ref, rank, cursor.get(f"metric{rank}", 0))
            if points:
                cursor[f"metric{rank}"] = offset
                drained = False
                out.append(("metric", {"rank": rank, "points": points}))
        return out, row.status in FINAL and self._settled(row) and drained

    def _settled(self, row: Job) -> bool:
        """Whether an ended job's stream may end: once it is finalized; at once for another
        host's job (that host's server finalizes it); and after ``FINALIZE_GRACE`` seconds
        whatever happened, so a finalization that keeps failing cannot hold a stream open."""
        if row.finalized or row.backend != self.backend.identity:
            return True
        ended = row.finished_at or row.created_at
        return (utcnow() - ended).total_seconds() > FINALIZE_GRACE
