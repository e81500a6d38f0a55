"""The model registry's tables, on the shared metadata (``store/tables.py`` imports this module).

``models`` (name, description, tags, latest_version) is defined in ``store/tables.py``; these add
versions, the per-model version counter, files, blobs, aliases and their history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..store.tables import Base, UTCDateTime, utcnow


class ModelCounter(Base):
    """The next version number of a model; bumped with UPDATE .. RETURNING inside the
    transaction that creates the version, so numbers are consecutive and never reused."""

    __tablename__ = "model_counters"

    model_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("models.name", ondelete="CASCADE"), primary_key=True
    )
    next_version: Mapped[int] = mapped_column(Integer, default=1)


class ModelVersion(Base):
    """One registered version: its files, metrics, parameters, tags, note and lineage."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("models.name", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[str] = mapped_column(String(255), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="file")
    metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)


class ModelVersionMetric(Base):
    """Metrics as rows too, so a model's versions can be paged in the order of one metric."""

    __tablename__ = "model_version_metrics"
    __table_args__ = (
        Index("ix_model_version_metrics_sort", "model_name", "key", "value", "version"),
    )

    version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)


class ModelBlob(Base):
    """A content-addressed file in the store (its name is its sha256)."""

    __tablename__ = "model_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelFile(Base):
    """A file of a version: its path inside the version and the blob holding its bytes."""

    __tablename__ = "model_files"

    version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(4096), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), ForeignKey("model_blobs.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)


class BlobLease(Base):
    """A blob an in-flight registration wrote or reuses: the garbage collector leaves it alone
    until the lease is dropped (when the version commits) or expires (a killed registration)."""

    __tablename__ = "model_blob_leases"

    lease_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelAlias(Base):
    """``name@alias`` points at one version."""

    __tablename__ = "model_aliases"

    model_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("models.name", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255), default="")


class ModelAliasEvent(Base):
    """Every move of an alias: who, when, from which version to which (None: set or removed)."""

    __tablename__ = "model_alias_history"
    __table_args__ = (Index("ix_model_alias_history_model", "model_name", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(128))
    alias: Mapped[str] = mapped_column(String(128))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    user: Mapped[str] = mapped_column(String(255), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
