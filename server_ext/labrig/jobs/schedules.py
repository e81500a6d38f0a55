"""Cron schedules that submit a job at each occurrence: create, list, pause/resume, delete, run
now, their history, and firing due occurrences (at most once each, across processes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from sqlalchemy import Row, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..store import Page, PageRequest
from ..store.pagination import paginate
from ..store.tables import Job, JobSchedule, JobScheduleRun
from .queries import iso
from .spec import parse_spec
from .submission import JobSubmission, new_id


def schedule_json(row: JobSchedule | Row[Any], next_run: datetime | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "cron": row.cron,
        "notebook_path": row.notebook_path,
        "paused": row.paused,
        "spec": row.spec,
        "snapshot_sha256": row.snapshot_sha256,
        "created_at": row.created_at.isoformat(),
        "last_occurrence": row.last_occurrence.isoformat(),
        "last_job_id": row.last_job_id,
        "next_run_at": iso(next_run),
        "owner": row.owner,
    }


class JobSchedules(JobSubmission):
    def _schedule_row(self, session: Session, schedule_id: str) -> JobSchedule:
        row = session.get(JobSchedule, schedule_id)
        # Another user's schedule is as absent as one that never existed.
        if row is None or not self.acting().owns(row.owner):
            raise NotFound(f"no schedule with id {schedule_id!r}", field="schedule_id")
        return row

    @staticmethod
    def _check_cron(cron: Any) -> str:
        if not isinstance(cron, str) or not croniter.is_valid(cron) or len(cron.split()) != 5:
            raise InvalidInput(
                f"cron {cron!r} is not a 5-field cron expression, e.g. '0 3 * * *' (03:00 daily)",
                field="cron",
            )
        return cron

    def _next_run(self, row: JobSchedule | Row[Any]) -> datetime | None:
        if row.paused:
            return None
        nxt: datetime = croniter(row.cron, row.last_occurrence).get_next(datetime)
        return nxt

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body.get("job"), dict):
            raise InvalidInput("job is required: the job to submit at each occurrence", field="job")
        unknown = sorted(set(body) - {"cron", "job", "name", "paused"})
        if unknown:
            raise InvalidInput(f"unknown field {unknown[0]!r} for a schedule", field=unknown[0])
        cron = self._check_cron(body.get("cron"))
        spec, sha, kernel = self._validate(body["job"])
        data = spec.json()
        data["kernel_name"] = kernel
        now = self.clock()
        with self.db.session() as session:
            row = JobSchedule(
                id=new_id(),
                name=str(body.get("name") or spec.name)[:255],
                cron=cron,
                notebook_path=spec.notebook_path,
                spec=data,
                snapshot_sha256=sha,
                paused=bool(body.get("paused", False)),
                created_at=now,
                last_occurrence=now,
                owner=self.owner_now(),
            )
            session.add(row)
            return schedule_json(row, self._next_run(row))

    def list_schedules(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            order = [JobSchedule.created_at, JobSchedule.id]
            # Every column, as plain rows: the panel polls this list.
            stmt = self.visible(select(JobSchedule.__table__), JobSchedule)
            rows = paginate(session, stmt, order, page, descending=True, columns=True)
            return rows.map(lambda row: schedule_json(row, self._next_run(row)))

    def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._schedule_row(session, schedule_id)
            return schedule_json(row, self._next_run(row))

    def set_paused(self, schedule_id: str, paused: bool) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._schedule_row(session, schedule_id)
            if row.paused and not paused:
                # Resuming does not replay the occurrences missed while paused.
                row.last_occurrence = max(row.last_occurrence, self.clock())
            row.paused = paused
            return schedule_json(row, self._next_run(row))

    def delete_schedule(self, schedule_id: str) -> None:
        with self.db.session() as session:
            row = self._schedule_row(session, schedule_id)
            session.execute(delete(JobScheduleRun).where(JobScheduleRun.schedule_id == row.id))
            session.delete(row)

    def run_schedule_now(self, schedule_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._schedule_row(session, schedule_id)
            job_id = self._new_scheduled_job(session, row).id
            # The row's last run is its latest job; the cron position (last_occurrence) stays,
            # so running now neither skips nor replays a scheduled occurrence.
            row.last_job_id = job_id
        self.admit()
        return self.get(job_id)

    def _new_scheduled_job(self, session: Session, sched: JobSchedule) -> Job:
        """A queued job from the schedule's stored spec and notebook snapshot, owned by the
        schedule's owner (whoever fires it: the server's ticker, or someone running it now)."""
        spec = parse_spec(
            {k: v for k, v in sched.spec.items() if v is not None},
            self.backend.host_limits(self.host),
        )
        kernel = sched.spec["kernel_name"]
        return self._new_job(
            session, spec, sched.snapshot_sha256, kernel, owner=sched.owner, schedule_id=sched.id
        )

    def _due(self, row: JobSchedule, now: datetime) -> datetime | None:
        """The latest occurrence after the last fired one and not after ``now`` (occurrences
        missed while the server was down collapse into one run)."""
        it = croniter(row.cron, row.last_occurrence)
        due = None
        for _ in range(10000):
            nxt: datetime = it.get_next(datetime)
            if nxt > now:
                return due
            due = nxt
        latest: datetime = croniter(row.cron, now + timedelta(seconds=1)).get_prev(datetime)
        return latest

    def fire_schedules(self) -> list[str]:
        now = self.clock()
        fired = []
        with self.db.session() as session:
            rows = list(session.scalars(select(JobSchedule).where(JobSchedule.paused.is_(False))))
        for sched in rows:
            occurrence = self._due(sched, now)
            if occurrence is None:
                continue
            try:
                with self.db.session() as session:
                    job = self._new_scheduled_job(session, sched)
                    session.add(
                        JobScheduleRun(schedule_id=sched.id, occurrence=occurrence, job_id=job.id)
                    )
                    stored = session.get(JobSchedule, sched.id)
                    if stored is not None:
                        stored.last_occurrence = occurrence
                        stored.last_job_id = job.id
                    fired.append(job.id)
            except IntegrityError:
                continue  # another process fired this occurrence first
        return fired

    def schedule_runs(self, schedule_id: str) -> list[dict[str, Any]]:
        with self.db.session() as session:
            self._schedule_row(session, schedule_id)
            runs = session.scalars(
                select(JobScheduleRun)
                .where(JobScheduleRun.schedule_id == schedule_id)
                .order_by(JobScheduleRun.occurrence)
            )
            return [{"occurrence": r.occurrence.isoformat(), "job_id": r.job_id} for r in runs]
