"""The dataset catalog's tables (on the shared metadata; migration 0004)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from labrig.store.tables import Base, UTCDateTime, utcnow


class Dataset(Base):
    """A named dataset in the catalog; ``version`` is the hash of its pinned manifest.

    ``options`` holds where credentials come from (environment variable names or a file
    path), never the credentials themselves.
    """

    __tablename__ = "datasets"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    source_url: Mapped[str] = mapped_column(String(4096))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    include: Mapped[str | None] = mapped_column(String(1024))
    read_only: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    mount_path: Mapped[str | None] = mapped_column(String(4096))
    #: Who made the host mount at ``mount_path``: every kernel on the host reads through it,
    #: so only they, the dataset's owner or an administrator may move or remove it.
    mounted_by: Mapped[str | None] = mapped_column(String(255))
    #: Who created it (Jupyter Server's user name; ``labrig.identity``); None on rows from
    #: before owners were recorded, which stay everyone's.
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    #: A private dataset is listed and mounted for its owner (and administrators) only.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DatasetVersion(Base):
    """A manifest: every file's path, size and ETag/version id, as listed at one time."""

    __tablename__ = "dataset_versions"

    dataset: Mapped[str] = mapped_column(
        String(128), ForeignKey("datasets.name", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    manifest: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    files: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
