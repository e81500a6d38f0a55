"""Registration: a file or directory becomes a model's next version, all or nothing.

Files go to the blob store first, each under a lease (taken as soon as its hash is known) that
keeps the garbage collector off the blob and off its upload in flight. Then ONE database
transaction bumps the model's counter with ``UPDATE .. RETURNING`` (the first statement, so it
takes the write lock at once on SQLite and a row lock on PostgreSQL) and adds the version, its
files and metrics. A registration killed before that transaction commits leaves no version; its
blobs are unreferenced, and ``gc()`` removes them, and aborts the object-store uploads it left
unfinished, once their lease expires.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound, Unavailable
from ..store.tables import RegisteredModel
from ..validation import check_text
from .checks import check_metrics, check_model_name, check_note, check_params, check_version_tags
from .queries import ModelQueries
from .serialize import version_json
from .store import Progress, StoredBlob
from .tables import BlobLease, ModelBlob, ModelCounter, ModelFile, ModelVersion, ModelVersionMetric


@dataclass(frozen=True)
class SourceFile:
    path: Path
    #: The file's path inside the version (posix).
    name: str


def collect_files(path: Path) -> list[SourceFile]:
    """The files of a registration: one file, or every file under a directory."""
    if not path.exists():
        raise NotFound(f"{path} does not exist", field="path")
    if path.is_file():
        if path.stat().st_size == 0:
            raise InvalidInput(f"{path.name} is empty; register a file with content", field="path")
        return [SourceFile(path, path.name)]
    if not path.is_dir():
        raise InvalidInput(f"{path} is neither a file nor a directory", field="path")
    files = [
        SourceFile(p, p.relative_to(path).as_posix())
        for p in sorted(path.rglob("*"))
        if p.is_file() and not any(part == ".ipynb_checkpoints" for part in p.parts)
    ]
    if not files:
        raise InvalidInput(f"directory {path.name} holds no files", field="path")
    return files


#: Above this many distinct file sizes, the dedup check reads every blob size instead (each
#: size is a bound parameter, and databases cap those per statement).
MAX_SIZES_IN_QUERY = 500


class _AlreadyRegistered(Exception):
    """Raised inside the commit transaction to roll it back when a retry finds its version."""

    def __init__(self, version: dict[str, Any]) -> None:
        self.version = version


class ModelRegistration(ModelQueries):
    """Adding versions: files into the blob store under a lease, then one transaction."""

    def _by_key(self, session: Session, key: str) -> dict[str, Any] | None:
        row = session.scalar(select(ModelVersion).where(ModelVersion.idempotency_key == key))
        if row is None:
            return None
        aliases = self._aliases_of(session, row.model_name).get(row.version, [])
        # Anyone may send a key: the version it finds is shown as to any other reader.
        return self._shown(session, version_json(row, aliases))

    def register(
        self,
        name: str,
        path: Path | str,
        *,
        metrics: Any = None,
        params: Any = None,
        tags: Any = None,
        note: Any = None,
        lineage: dict[str, Any] | None = None,
        kind: str | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Store the file or directory at ``path`` and add it as the model's next version,
        registered by the acting user (``labrig.identity``; ``model_register_policy``)."""
        name = check_model_name(name)
        checked_metrics = check_metrics(metrics)
        checked_params = check_params(params)
        checked_tags = check_version_tags(tags)
        checked_note = check_note(note)
        if idempotency_key is not None:
            check_text(idempotency_key, field="idempotency_key", max_length=128)
            with self.db.session() as session:
                existing = self._by_key(session, idempotency_key)
            if existing is not None:
                return existing
        user = self.db.retrying(lambda: self._registrant(name), f"registering {name}")
        source = Path(path)
        files = collect_files(source)
        self.store.check()
        lease = uuid.uuid4().hex
        # A database server that goes away for a moment costs a wait, not the registration:
        # the attempt runs again, and a key of its own lets a commit that landed just before
        # the connection dropped be found instead of made twice.
        key = idempotency_key or f"registration:{lease}"

        def attempt() -> dict[str, Any]:
            with self.db.session() as session:  # what the registration needs, in one read
                model_exists = session.get(RegisteredModel, name) is not None
                known_sizes = self._known_sizes(session, files)
            stored = self._store_files(files, lease, progress, known_sizes)
            # Only now, with every file stored, does anything appear in the registry.
            if not model_exists:
                self._ensure_model(name)
            return self._commit_version(
                name,
                files,
                stored,
                lease=lease,
                kind=kind or ("directory" if source.is_dir() else "file"),
                metrics=checked_metrics,
                params=checked_params,
                tags=checked_tags,
                note=checked_note,
                user=user,
                lineage=lineage or {},
                idempotency_key=key,
            )

        try:
            return self.db.retrying(attempt, f"registering a version of {name}")
        except _AlreadyRegistered as done:
            self._drop_lease(lease)
            return done.version
        except BaseException:
            self._drop_lease(lease)  # the committed version drops its lease itself
            raise

    def _registrant(self, name: str) -> str:
        """Who registers: refused (``model_register_policy``) before any file is stored."""
        with self.db.session() as session:
            model = session.get(RegisteredModel, name)
            return self.policy.check("register", name, model.owner if model else None).name

    def _drop_lease(self, lease: str) -> None:
        # With the database away the lease stays; it expires, and gc() then removes the blobs
        # nothing references. The registration's own error is what the caller must see.
        with contextlib.suppress(Unavailable), self.db.session() as session:
            session.execute(delete(BlobLease).where(BlobLease.lease_id == lease))

    def _known_sizes(self, session: Session, files: list[SourceFile]) -> set[int]:
        """Which of these files' sizes some blob in the store has (a file of any other size is
        new for sure): an index lookup, not a scan of every blob."""
        sizes = {f.path.stat().st_size for f in files}
        query = select(ModelBlob.size).distinct()
        if len(sizes) <= MAX_SIZES_IN_QUERY:
            query = query.where(ModelBlob.size.in_(sizes))
        return set(session.scalars(query))

    def _store_files(
        self, files: list[SourceFile], lease: str, progress: Progress | None, known: set[int]
    ) -> list[StoredBlob]:
        total = sum(f.path.stat().st_size for f in files)
        done_before = 0
        stored: list[StoredBlob] = []
        leased: set[str] = set()

        def lease_once(sha256: str) -> None:
            if sha256 not in leased:
                self._lease(lease, sha256)
                leased.add(sha256)

        for source in files:

            def step(done: int, _total: int, base: int = done_before) -> None:
                if progress:
                    progress(base + done, total)

            blob = self.store.put_file(
                source.path,
                step,
                known_sizes=known,
                on_hashed=lease_once,
            )
            stored.append(blob)
            done_before += blob.size
            lease_once(blob.sha256)
            if not blob.written and not self.store.exists(blob.sha256):
                # collected between the dedup check and the lease: write it again
                stored[-1] = self.store.put_file(source.path, step)
        if progress:
            progress(total, total)
        return stored

    def _lease(self, lease: str, sha256: str) -> None:
        """Keep ``gc`` off the blob (and its upload in flight) until the version commits."""
        with self.db.session() as session:
            self._insert_ignore(session, BlobLease, {"lease_id": lease, "sha256": sha256})

    def _insert_ignore(self, session: Session, table: type, values: dict[str, Any]) -> None:
        # The dialect's module only (importing PostgreSQL's costs SQLite users 50 ms a start).
        if self.db.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            session.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())

    def _commit_version(
        self,
        name: str,
        files: list[SourceFile],
        stored: list[StoredBlob],
        *,
        lease: str,
        kind: str,
        metrics: dict[str, float],
        params: dict[str, Any],
        tags: dict[str, str],
        note: str,
        user: str,
        lineage: dict[str, Any],
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        try:
            with self.db.session() as session:
                number = self._allocate_number(session, name)
                # The model may have been created by someone else since the first check.
                owner = session.scalar(
                    select(RegisteredModel.owner).where(RegisteredModel.name == name)
                )
                self.policy.check("register", name, owner)
                if idempotency_key is not None:
                    existing = self._by_key(session, idempotency_key)
                    if existing is not None:
                        raise _AlreadyRegistered(existing)
                for blob in stored:
                    self._insert_ignore(
                        session,
                        ModelBlob,
                        {"sha256": blob.sha256, "size": blob.size, "created_at": datetime.now(UTC)},
                    )
                row = ModelVersion(
                    model_name=name,
                    version=number,
                    user=user,
                    note=note,
                    kind=kind,
                    metrics=metrics,
                    params=params,
                    tags=tags,
                    lineage=lineage,
                    size=sum(b.size for b in stored),
                    file_count=len(stored),
                    idempotency_key=idempotency_key,
                )
                session.add(row)
                session.flush()
                file_rows = self._add_files_and_metrics(session, row, files, stored)
                self._raise_latest_version(session, name, number)
                session.execute(delete(BlobLease).where(BlobLease.lease_id == lease))
                session.flush()
                return version_json(row, [], sorted(file_rows, key=lambda f: f.path))
        except IntegrityError as err:
            if idempotency_key is not None:
                with self.db.session() as session:
                    existing = self._by_key(session, idempotency_key)
                if existing is not None:
                    return existing
            raise Conflict(
                f"registering {name} clashed with a concurrent change: {err.orig}"
            ) from err

    def _allocate_number(self, session: Session, name: str) -> int:
        """The model's next version number; must be the transaction's first statement so it
        takes the write lock at once."""
        bump = (
            update(ModelCounter)
            .where(ModelCounter.model_name == name)
            .values(next_version=ModelCounter.next_version + 1)
            .returning(ModelCounter.next_version)
        )
        allocated = session.execute(bump).scalar_one_or_none()
        if allocated is None:  # the model's first version: its counter starts now
            self._insert_ignore(session, ModelCounter, {"model_name": name, "next_version": 1})
            allocated = session.execute(bump).scalar_one_or_none()
        if allocated is None:
            raise NotFound(f"model {name!r} was deleted during the registration")
        return int(allocated) - 1

    def _add_files_and_metrics(
        self,
        session: Session,
        row: ModelVersion,
        files: list[SourceFile],
        stored: list[StoredBlob],
    ) -> list[ModelFile]:
        file_rows = [
            ModelFile(version_id=row.id, path=source.name, sha256=blob.sha256, size=blob.size)
            for source, blob in zip(files, stored, strict=True)
        ]
        session.add_all(file_rows)
        for key, value in row.metrics.items():
            session.add(
                ModelVersionMetric(
                    version_id=row.id,
                    key=key,
                    model_name=row.model_name,
                    version=row.version,
                    value=value,
                )
            )
        return file_rows

    def _raise_latest_version(self, session: Session, name: str, number: int) -> None:
        """latest_version = max(latest_version, number): concurrent registrations may commit
        out of order. SQLite's scalar two-argument max() is PostgreSQL's greatest()."""
        larger = func.max if self.db.dialect == "sqlite" else func.greatest
        session.execute(
            update(RegisteredModel)
            .where(RegisteredModel.name == name)
            .values(latest_version=larger(func.coalesce(RegisteredModel.latest_version, 0), number))
        )
