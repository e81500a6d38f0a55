"""The SQLAlchemy models. Every change here needs an Alembic migration in ``migrations/``:
``tests/unit/test_migrations.py`` fails while the two disagree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ResourceRequest(Base):
    """The resources a user asked for a notebook's kernel, kept per notebook path."""

    __tablename__ = "resource_requests"

    notebook_path: Mapped[str] = mapped_column(String(4096), primary_key=True)
    profile: Mapped[str | None] = mapped_column(String(255))
    cpus: Mapped[float | None] = mapped_column(Float)
    memory: Mapped[int | None] = mapped_column(BigInteger)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    gpu_type: Mapped[str | None] = mapped_column(String(255))
    disk: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: Who created it (Jupyter Server's user name; ``labrig.identity``); None on rows from
    #: before owners were recorded, which stay everyone's.
    owner: Mapped[str | None] = mapped_column(String(255), index=True)


class RegisteredModel(Base):
    """A model in the registry; its versions arrive with the Models capability."""

    __tablename__ = "models"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    latest_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Who created it (Jupyter Server's user name; ``labrig.identity``); None on rows from
    #: before owners were recorded, which stay everyone's.
    owner: Mapped[str | None] = mapped_column(String(255), index=True)


class ApiToken(Base):
    """A token minted for a kernel or a job (``labrig.tokens``), by its SHA-256 digest."""

    __tablename__ = "api_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    #: The kernel id or job id the token belongs to (revoked together with it).
    subject: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Section tables live in their own modules on the same metadata.
from labrig.dataset_mounts.tables import Dataset, DatasetVersion  # noqa: E402, F401

from ..jobs.tables import Job, JobSchedule, JobScheduleRun  # noqa: E402, F401
from ..models import tables as _models_tables  # noqa: E402, F401
from ..resources import tables as _resources_tables  # noqa: E402, F401
