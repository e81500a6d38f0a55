"""The jobs section's tables: jobs, cron schedules and the occurrences they fired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..store.tables import Base, UTCDateTime, utcnow


class Job(Base):
    """A notebook run as a (possibly distributed) job.

    ``status`` moves QUEUED -> STARTING -> RUNNING -> SUCCEEDED | FAILED | CANCELLED; each
    transition has its own timestamp (``created_at`` is when it was queued).
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_queue", "status", "priority", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    notebook_path: Mapped[str] = mapped_column(String(4096))
    status: Mapped[str] = mapped_column(String(16), default="QUEUED", index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    starting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    #: The validated JobSpec as JSON (parameters, ranks, resources, datasets, env, outputs...).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    #: Where rank 0 writes its output notebook, relative to the server root.
    output_path: Mapped[str | None] = mapped_column(String(4096))
    schedule_id: Mapped[str | None] = mapped_column(String(64), index=True)
    rerun_of: Mapped[str | None] = mapped_column(String(64))
    #: GPU UUIDs granted per rank, e.g. {"0": ["GPU-..."]}.
    gpus_granted: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The backend that runs the job (``JobBackend.identity``: ``local:<host>``,
    #: ``kubernetes:<cluster>/<namespace>``); only that backend's servers admit and reconcile it.
    backend: Mapped[str | None] = mapped_column(String(255), index=True)
    #: What the backend returned when it launched the job (a local supervisor's pid and create
    #: time; a Kubernetes object's namespace, name and uid), passed back on every later call.
    handle: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The dataset versions the job was started with (name -> manifest hash), for lineage.
    dataset_versions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: True while the job holds resources in the ledger (released once it ends).
    holds_resources: Mapped[bool] = mapped_column(Boolean, default=False)
    #: True once a finished job's hooks (ledger release, model outputs) have run.
    finalized: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Who created it (Jupyter Server's user name; ``labrig.identity``); None on rows from
    #: before owners were recorded, which stay everyone's.
    owner: Mapped[str | None] = mapped_column(String(255), index=True)


class JobSchedule(Base):
    """A cron definition that submits a job (from a fixed snapshot) at each occurrence."""

    __tablename__ = "job_schedules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    cron: Mapped[str] = mapped_column(String(255))
    notebook_path: Mapped[str] = mapped_column(String(4096))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    snapshot_sha256: Mapped[str] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: The last occurrence that fired (or the creation time before the first one).
    last_occurrence: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_job_id: Mapped[str | None] = mapped_column(String(64))
    #: Who created it (Jupyter Server's user name; ``labrig.identity``); None on rows from
    #: before owners were recorded, which stay everyone's.
    owner: Mapped[str | None] = mapped_column(String(255), index=True)


class JobScheduleRun(Base):
    """One occurrence of a schedule; the unique key makes a second start of it impossible."""

    __tablename__ = "job_schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "occurrence", name="uq_schedule_occurrence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("job_schedules.id", ondelete="CASCADE")
    )
    occurrence: Mapped[datetime] = mapped_column(UTCDateTime)
    job_id: Mapped[str] = mapped_column(String(64))
