"""Tables of the Resources section: who holds what, and why kernels stopped.

``resource_requests`` (what a notebook asked for) lives in ``store/tables.py``; these are the
ledger of live allocations (one row per holder, one row per allocated GPU, so the database's
primary key makes a GPU impossible to grant twice) and the record of enforcement events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..store.tables import Base, UTCDateTime, utcnow


class ResourceHolder(Base):
    """A kernel (``kernel:<id>``) or job rank (``job:<id>/rank<r>``) holding resources.

    It is alive while ``pid`` runs, or, before the process exists, while the process that
    acquired for it (``owner_pid``) runs; start times guard against reused pids.
    """

    __tablename__ = "resource_holders"

    holder: Mapped[str] = mapped_column(String(255), primary_key=True)
    notebook_path: Mapped[str | None] = mapped_column(String(4096), index=True)
    user: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    owner_pid: Mapped[int] = mapped_column(Integer)
    owner_started: Mapped[float] = mapped_column(Float)
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_started: Mapped[float | None] = mapped_column(Float)
    cpus: Mapped[float | None] = mapped_column(Float)
    memory: Mapped[int | None] = mapped_column(BigInteger)
    disk: Mapped[int | None] = mapped_column(BigInteger)
    gpus: Mapped[list[str]] = mapped_column(JSON, default=list)
    enforcement: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GpuAllocation(Base):
    """One GPU, exclusively held: the primary key on the UUID is the ledger's guarantee."""

    __tablename__ = "gpu_allocations"

    uuid: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255), index=True)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResourceEvent(Base):
    """Something a user must be told about a notebook's kernel ("kernel stopped: ...")."""

    __tablename__ = "resource_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notebook_path: Mapped[str] = mapped_column(String(4096), index=True)
    holder: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
