"""The model registry: models, versions (numbered atomically per model), aliases with history,
and content-addressed files.

Registration is all or nothing: files go to the blob store first (each under a lease that keeps
the garbage collector off it), then ONE database transaction bumps the model's counter with
``UPDATE .. RETURNING`` (the first statement, so it takes the write lock at once on SQLite and a
row lock on PostgreSQL) and adds the version, its files and metrics. A registration killed
before that transaction commits leaves no version; its blobs are unreferenced and ``gc()``
removes them once their lease expires.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ..store import Database, Page, PageRequest
from ..store.pagination import paginate
from ..store.tables import RegisteredModel
from ..validation import check_fields, check_tags, check_text
from .checks import (
    check_alias,
    check_metrics,
    check_model_name,
    check_note,
    check_params,
    check_version,
    check_version_tags,
    parse_ref,
)
from .store import BlobStore, Progress, StoredBlob
from .tables import (
    BlobLease,
    ModelAlias,
    ModelAliasEvent,
    ModelBlob,
    ModelCounter,
    ModelFile,
    ModelVersion,
    ModelVersionMetric,
)

MODEL_FIELDS = {"name", "description", "tags"}
#: How long a registration may take before its leases stop protecting its blobs from gc.
LEASE_TTL = timedelta(hours=24)
#: Blobs younger than this are never collected (a registration may be writing them).
GC_GRACE = timedelta(hours=1)
ORDERS = ("version", "created_at")


def _iso(value: datetime) -> str:
    return value.isoformat()


def model_json(row: RegisteredModel, aliases: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "tags": row.tags,
        "created_at": _iso(row.created_at),
        "latest_version": row.latest_version,
        "aliases": aliases or {},
    }


def version_json(
    row: ModelVersion, aliases: list[str] | None = None, files: list[ModelFile] | None = None
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "model": row.model_name,
        "version": row.version,
        "ref": f"{row.model_name}/{row.version}",
        "created_at": _iso(row.created_at),
        "user": row.user,
        "note": row.note,
        "kind": row.kind,
        "metrics": row.metrics,
        "params": row.params,
        "tags": row.tags,
        "lineage": row.lineage,
        "size": row.size,
        "file_count": row.file_count,
        "aliases": sorted(aliases or []),
    }
    if files is not None:
        value["files"] = [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files]
    return value


def alias_event_json(row: ModelAliasEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "model": row.model_name,
        "alias": row.alias,
        "from_version": row.from_version,
        "to_version": row.to_version,
        "user": row.user,
        "at": _iso(row.at),
    }


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


def idempotency_key_for(job_id: str, rank: int, path: str) -> str:
    return "job:" + hashlib.sha256(f"{job_id}\0{rank}\0{path}".encode()).hexdigest()


class _AlreadyRegistered(Exception):
    def __init__(self, version: dict[str, Any]) -> None:
        self.version = version


class ModelRegistry:
    def __init__(
        self,
        db: Database,
        store_url: str,
        *,
        store_options: dict[str, Any] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.db = db
        self.store_url = store_url
        self._store_options = store_options or {}
        self._store: BlobStore | None = None
        self.cache_dir = cache_dir

    @property
    def store(self) -> BlobStore:
        if self._store is None:
            self._store = BlobStore(self.store_url, self._store_options)
        return self._store

    # -- models -----------------------------------------------------------------------------

    def _aliases_by_model(
        self, session: Session, names: builtins.list[str]
    ) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {name: {} for name in names}
        if names:
            for row in session.scalars(select(ModelAlias).where(ModelAlias.model_name.in_(names))):
                found[row.model_name][row.alias] = row.version
        return found

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            stmt = select(RegisteredModel)
            rows = paginate(session, stmt, [RegisteredModel.name], page)
            aliases = self._aliases_by_model(session, [r.name for r in rows.items])
            return rows.map(lambda r: model_json(r, aliases[r.name]))

    def names(self, prefix: str = "", limit: int = 50) -> builtins.list[str]:
        with self.db.session() as session:
            stmt = select(RegisteredModel.name).order_by(RegisteredModel.name).limit(limit)
            if prefix:
                stmt = stmt.where(RegisteredModel.name.startswith(prefix, autoescape=True))
            return list(session.scalars(stmt))

    def _model(self, session: Session, name: str) -> RegisteredModel:
        row = session.get(RegisteredModel, name)
        if row is None:
            raise NotFound(f"no model named {name!r}; `labrig models ls` lists them", field="name")
        return row

    def get(self, name: str) -> dict[str, Any]:
        check_model_name(name)
        with self.db.session() as session:
            row = self._model(session, name)
            count = session.scalar(
                select(func.count())
                .select_from(ModelVersion)
                .where(ModelVersion.model_name == name)
            )
            value = model_json(row, self._aliases_by_model(session, [name])[name])
            value["version_count"] = count or 0
            return value

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        check_fields(body, MODEL_FIELDS, what="a model")
        name = check_model_name(body.get("name"))
        description = check_text(body.get("description", ""), field="description", max_length=10000)
        tags = check_tags(body.get("tags", {}))
        row = RegisteredModel(name=name, description=description, tags=tags)
        try:
            with self.db.session() as session:
                session.add(row)
        except IntegrityError as err:
            raise Conflict(
                f"a model named {name!r} already exists; register a new version of it instead",
                field="name",
            ) from err
        return model_json(row)

    def _ensure_model(self, name: str) -> None:
        """Create the model when it is new (its counter row comes with its first version)."""
        with self.db.session() as session:
            exists = session.get(RegisteredModel, name) is not None
        if not exists:
            with contextlib.suppress(Conflict):  # another process may create it meanwhile
                self.create({"name": name})

    def delete(self, name: str) -> None:
        check_model_name(name)
        with self.db.session() as session:
            self._model(session, name)
            aliases = list(session.scalars(select(ModelAlias).where(ModelAlias.model_name == name)))
            if aliases:
                listed = ", ".join(f"{a.alias} -> {a.version}" for a in aliases)
                raise Conflict(
                    f"model {name!r} still has aliases ({listed}); remove them first",
                    field="name",
                )
            ids = select(ModelVersion.id).where(ModelVersion.model_name == name)
            session.execute(
                delete(ModelVersionMetric).where(ModelVersionMetric.version_id.in_(ids))
            )
            session.execute(delete(ModelFile).where(ModelFile.version_id.in_(ids)))
            session.execute(delete(ModelVersion).where(ModelVersion.model_name == name))
            session.execute(delete(ModelAliasEvent).where(ModelAliasEvent.model_name == name))
            session.execute(delete(ModelCounter).where(ModelCounter.model_name == name))
            session.execute(delete(RegisteredModel).where(RegisteredModel.name == name))

    # -- versions ---------------------------------------------------------------------------

    def resolve(self, ref: str) -> tuple[str, int]:
        """``name``, ``name/3``, ``name@alias`` or ``name@latest`` -> (name, version)."""
        name, which = parse_ref(ref)
        with self.db.session() as session:
            model = self._model(session, name)
            if which is None:
                if model.latest_version is None:
                    raise NotFound(f"model {name!r} has no versions yet", field="ref")
                return name, model.latest_version
            if isinstance(which, int):
                return name, which
            alias = session.get(ModelAlias, (name, which))
            if alias is None:
                raise NotFound(
                    f"model {name!r} has no alias {which!r}; "
                    f"`labrig models show {name}` lists its aliases",
                    field="ref",
                )
            return name, alias.version

    def _version(self, session: Session, name: str, version: int) -> ModelVersion:
        row = session.scalar(
            select(ModelVersion).where(
                ModelVersion.model_name == name, ModelVersion.version == version
            )
        )
        if row is None:
            self._model(session, name)
            raise NotFound(
                f"model {name!r} has no version {version}; "
                f"`labrig models show {name}` lists its versions",
                field="version",
            )
        return row

    def _aliases_of(self, session: Session, name: str) -> dict[int, builtins.list[str]]:
        found: dict[int, builtins.list[str]] = {}
        for row in session.scalars(select(ModelAlias).where(ModelAlias.model_name == name)):
            found.setdefault(row.version, []).append(row.alias)
        return found

    def get_version(self, name: str, version: int | str) -> dict[str, Any]:
        name = check_model_name(name)
        number = check_version(version)
        with self.db.session() as session:
            row = self._version(session, name, number)
            files = list(
                session.scalars(
                    select(ModelFile).where(ModelFile.version_id == row.id).order_by(ModelFile.path)
                )
            )
            return version_json(row, self._aliases_of(session, name).get(number, []), files)

    def get_ref(self, ref: str) -> dict[str, Any]:
        name, version = self.resolve(ref)
        return self.get_version(name, version)

    def list_versions(
        self, name: str, page: PageRequest, order_by: str | None = None, descending: bool = True
    ) -> Page[dict[str, Any]]:
        name = check_model_name(name)
        order_by = order_by or "version"
        with self.db.session() as session:
            self._model(session, name)
            aliases = self._aliases_of(session, name)
            if order_by.startswith("metric:"):
                rows = self._versions_by_metric(session, name, order_by[7:], page, descending)
            elif order_by in ORDERS:
                column = ModelVersion.version if order_by == "version" else ModelVersion.created_at
                order = [column] if order_by == "version" else [column, ModelVersion.version]
                stmt = select(ModelVersion).where(ModelVersion.model_name == name)
                rows = paginate(session, stmt, order, page, descending=descending)
            else:
                raise InvalidInput(
                    f"order_by {order_by!r} is not one of version, created_at, metric:<name>",
                    field="order_by",
                )
            return rows.map(lambda r: version_json(r, aliases.get(r.version, [])))

    def _versions_by_metric(
        self, session: Session, name: str, key: str, page: PageRequest, descending: bool
    ) -> Page[ModelVersion]:
        """Versions that have metric ``key``, ordered by its value then by version (keyset)."""
        if not key or len(key) > 255:
            raise InvalidInput("order_by metric:<name> needs a metric name", field="order_by")
        m = ModelVersionMetric
        stmt = (
            select(ModelVersion, m.value)
            .join(m, m.version_id == ModelVersion.id)
            .where(m.model_name == name, m.key == key)
        )
        if page.page_token:
            value, version = _decode_metric_token(page.page_token)
            if descending:
                stmt = stmt.where(or_(m.value < value, and_(m.value == value, m.version < version)))
            else:
                stmt = stmt.where(or_(m.value > value, and_(m.value == value, m.version > version)))
        keys = [m.value.desc(), m.version.desc()] if descending else [m.value, m.version]
        rows = list(session.execute(stmt.order_by(*keys).limit(page.limit + 1)))
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        token = None
        if more:
            last = rows[-1]
            raw = json.dumps([last[1], last[0].version]).encode()
            token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return Page([row[0] for row in rows], token)

    def delete_version(self, name: str, version: int | str) -> None:
        name = check_model_name(name)
        number = check_version(version)
        with self.db.session() as session:
            row = self._version(session, name, number)
            pointing = self._aliases_of(session, name).get(number, [])
            if pointing:
                raise Conflict(
                    f"{name}/{number} is what alias {', '.join(sorted(pointing))} points at; "
                    "move or remove the alias first",
                    field="version",
                )
            session.execute(
                delete(ModelVersionMetric).where(ModelVersionMetric.version_id == row.id)
            )
            session.execute(delete(ModelFile).where(ModelFile.version_id == row.id))
            session.delete(row)
            session.flush()
            latest = session.scalar(
                select(func.max(ModelVersion.version)).where(ModelVersion.model_name == name)
            )
            session.execute(
                update(RegisteredModel)
                .where(RegisteredModel.name == name)
                .values(latest_version=latest)
            )

    # -- registration -----------------------------------------------------------------------

    def _by_key(self, session: Session, key: str) -> dict[str, Any] | None:
        row = session.scalar(select(ModelVersion).where(ModelVersion.idempotency_key == key))
        if row is None:
            return None
        return version_json(row, self._aliases_of(session, row.model_name).get(row.version, []))

    def register(
        self,
        name: str,
        path: Path | str,
        *,
        metrics: Any = None,
        params: Any = None,
        tags: Any = None,
        note: Any = None,
        user: str = "",
        lineage: dict[str, Any] | None = None,
        kind: str | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Store the file or directory at ``path`` and add it as the model's next version."""
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
        source = Path(path)
        files = collect_files(source)
        self.store.check()
        lease = uuid.uuid4().hex
        try:
            stored = self._store_files(files, lease, progress)
            # Only now, with every file stored, does anything appear in the registry.
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
                idempotency_key=idempotency_key,
            )
        except _AlreadyRegistered as done:
            self._drop_lease(lease)
            return done.version
        except BaseException:
            self._drop_lease(lease)  # the committed version drops its lease itself
            raise

    def _drop_lease(self, lease: str) -> None:
        with self.db.session() as session:
            session.execute(delete(BlobLease).where(BlobLease.lease_id == lease))

    def _store_files(
        self, files: builtins.list[SourceFile], lease: str, progress: Progress | None
    ) -> builtins.list[StoredBlob]:
        total = sum(f.path.stat().st_size for f in files)
        with self.db.session() as session:
            known = set(session.scalars(select(ModelBlob.size).distinct()))
        done_before = 0
        stored: builtins.list[StoredBlob] = []
        for source in files:

            def step(done: int, _total: int, base: int = done_before) -> None:
                if progress:
                    progress(base + done, total)

            blob = self.store.put_file(source.path, step, known_sizes=known)
            stored.append(blob)
            done_before += blob.size
            with self.db.session() as session:
                self._insert_ignore(session, BlobLease, {"lease_id": lease, "sha256": blob.sha256})
            if not blob.written and not self.store.exists(blob.sha256):
                # collected between the dedup check and the lease: write it again
                stored[-1] = self.store.put_file(source.path, step)
        if progress:
            progress(total, total)
        return stored

    def _insert_ignore(self, session: Session, table: type, values: dict[str, Any]) -> None:
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        session.execute(insert(table).values(**values).on_conflict_do_nothing())

    def _commit_version(
        self,
        name: str,
        files: builtins.list[SourceFile],
        stored: builtins.list[StoredBlob],
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
                # First statement of the transaction: takes the write lock, allocates the number.
                bump = (
                    update(ModelCounter)
                    .where(ModelCounter.model_name == name)
                    .values(next_version=ModelCounter.next_version + 1)
                    .returning(ModelCounter.next_version)
                )
                allocated = session.execute(bump).scalar_one_or_none()
                if allocated is None:  # the model's first version: its counter starts now
                    self._insert_ignore(
                        session, ModelCounter, {"model_name": name, "next_version": 1}
                    )
                    allocated = session.execute(bump).scalar_one_or_none()
                if allocated is None:
                    raise NotFound(f"model {name!r} was deleted during the registration")
                number = allocated - 1
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
                for source, blob in zip(files, stored, strict=True):
                    session.add(
                        ModelFile(
                            version_id=row.id, path=source.name, sha256=blob.sha256, size=blob.size
                        )
                    )
                for key, value in metrics.items():
                    session.add(
                        ModelVersionMetric(
                            version_id=row.id, key=key, model_name=name, version=number, value=value
                        )
                    )
                session.execute(
                    update(RegisteredModel)
                    .where(RegisteredModel.name == name)
                    .values(
                        latest_version=func.max(
                            func.coalesce(RegisteredModel.latest_version, 0), number
                        )
                    )
                    if self.db.dialect == "sqlite"
                    else update(RegisteredModel)
                    .where(RegisteredModel.name == name)
                    .values(
                        latest_version=func.greatest(
                            func.coalesce(RegisteredModel.latest_version, 0), number
                        )
                    )
                )
                session.execute(delete(BlobLease).where(BlobLease.lease_id == lease))
                session.flush()
                file_rows = sorted(
                    session.scalars(select(ModelFile).where(ModelFile.version_id == row.id)),
                    key=lambda f: f.path,
                )
                return version_json(row, [], file_rows)
        except IntegrityError as err:
            if idempotency_key is not None:
                with self.db.session() as session:
                    existing = self._by_key(session, idempotency_key)
                if existing is not None:
                    return existing
            raise Conflict(
                f"registering {name} clashed with a concurrent change: {err.orig}"
            ) from err

    def register_job_outputs(
        self,
        job_id: str,
        rank: int,
        outputs: builtins.list[dict[str, Any]],
        lineage: dict[str, Any],
    ) -> builtins.list[dict[str, Any]]:
        """Register a finished job's declared outputs; a retried job adds no versions."""
        registered = []
        for index, output in enumerate(outputs):
            if not isinstance(output, dict) or "name" not in output or "path" not in output:
                raise InvalidInput(
                    f"outputs[{index}] must be {{'name': model, 'path': file or directory}}",
                    field="outputs",
                )
            path = str(output["path"])
            job_lineage = {**lineage, "job_id": job_id, "rank": rank}
            registered.append(
                self.register(
                    output["name"],
                    path,
                    metrics=output.get("metrics"),
                    params=output.get("params", lineage.get("parameters")),
                    tags=output.get("tags"),
                    note=output.get("note", f"output of job {job_id}"),
                    user=str(lineage.get("user", "")),
                    lineage=job_lineage,
                    idempotency_key=idempotency_key_for(job_id, rank, path),
                )
            )
        return registered

    # -- aliases ----------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: Any, user: str = "") -> dict[str, Any]:
        name = check_model_name(name)
        alias = check_alias(alias)
        number = check_version(version)
        with self.db.session() as session:
            self._version(session, name, number)
            row = session.get(ModelAlias, (name, alias))
            before = row.version if row else None
            if row is None:
                session.add(
                    ModelAlias(model_name=name, alias=alias, version=number, updated_by=user)
                )
            elif row.version != number:
                row.version = number
                row.updated_at = datetime.now(UTC)
                row.updated_by = user
            if before != number:
                session.add(
                    ModelAliasEvent(
                        model_name=name,
                        alias=alias,
                        from_version=before,
                        to_version=number,
                        user=user,
                    )
                )
        return {"model": name, "alias": alias, "version": number}

    def delete_alias(self, name: str, alias: str, user: str = "") -> None:
        name = check_model_name(name)
        alias = check_alias(alias)
        with self.db.session() as session:
            self._model(session, name)
            row = session.get(ModelAlias, (name, alias))
            if row is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}", field="alias")
            session.add(
                ModelAliasEvent(
                    model_name=name,
                    alias=alias,
                    from_version=row.version,
                    to_version=None,
                    user=user,
                )
            )
            session.delete(row)

    def alias_history(self, name: str, page: PageRequest) -> Page[dict[str, Any]]:
        name = check_model_name(name)
        with self.db.session() as session:
            self._model(session, name)
            stmt = select(ModelAliasEvent).where(ModelAliasEvent.model_name == name)
            rows = paginate(session, stmt, [ModelAliasEvent.id], page, descending=True)
            return rows.map(alias_event_json)

    # -- files ------------------------------------------------------------------------------

    def version_files(self, name: str, version: int) -> builtins.list[ModelFile]:
        with self.db.session() as session:
            row = self._version(session, name, version)
            return list(
                session.scalars(
                    select(ModelFile).where(ModelFile.version_id == row.id).order_by(ModelFile.path)
                )
            )

    def open_file(self, name: str, version: Any, path: str) -> tuple[IO[bytes], int]:
        name = check_model_name(name)
        number = check_version(version)
        for item in self.version_files(name, number):
            if item.path == path:
                return self.store.open(item.sha256), item.size
        raise NotFound(f"{name}/{number} has no file {path!r}", field="path")

    def load_path(self, ref: str, progress: Progress | None = None) -> Path:
        """A local, verified copy of a version's files (cached), as a file or a directory."""
        name, number = self.resolve(ref)
        info = self.get_version(name, number)
        if self.cache_dir is None:
            raise InvalidInput("this registry has no cache directory for loading models")
        root = self.cache_dir / name / str(number)
        for item in info["files"]:
            target = root / item["path"]
            marker = target.with_name(f".{target.name}.sha256")
            if target.is_file() and marker.is_file():
                stamp = f"{item['sha256']} {target.stat().st_size} {target.stat().st_mtime_ns}"
                if marker.read_text() == stamp:
                    continue
            self.store.fetch(item["sha256"], target, progress)
            st = target.stat()
            marker.write_text(f"{item['sha256']} {st.st_size} {st.st_mtime_ns}")
        if info["kind"] == "file" and len(info["files"]) == 1:
            return root / info["files"][0]["path"]
        return root

    # -- garbage collection -----------------------------------------------------------------

    def gc(
        self, grace: timedelta = GC_GRACE, dry_run: bool = False, lease_ttl: timedelta = LEASE_TTL
    ) -> dict[str, Any]:
        """Remove blobs no version references (older than ``grace``, not leased) and stale
        temporary files; drop leases of registrations that never finished."""
        now = datetime.now(UTC)
        with self.db.session() as session:
            session.execute(delete(BlobLease).where(BlobLease.created_at < now - lease_ttl))
        removed: builtins.list[str] = []
        freed = 0
        for sha, mtime in list(self.store.iter_blobs()):
            if mtime is not None and mtime > now - grace:
                continue
            with self.db.session() as session:
                used = session.scalar(
                    select(ModelFile.sha256).where(ModelFile.sha256 == sha).limit(1)
                )
                leased = session.scalar(
                    select(BlobLease.sha256).where(BlobLease.sha256 == sha).limit(1)
                )
                if used is not None or leased is not None:
                    continue
                size = session.scalar(select(ModelBlob.size).where(ModelBlob.sha256 == sha))
                if not dry_run:
                    self.store.remove(self.store.blob_path(sha))
                    session.execute(delete(ModelBlob).where(ModelBlob.sha256 == sha))
            removed.append(sha)
            freed += size or 0
        stale_tmp = 0
        for tmp, mtime in list(self.store.iter_tmp()):
            if mtime is not None and mtime > now - grace:
                continue
            stale_tmp += 1
            if not dry_run:
                self.store.remove(tmp)
        if not dry_run:
            with self.db.session() as session:
                orphan = select(ModelFile.sha256).distinct()
                session.execute(
                    delete(ModelBlob).where(
                        ModelBlob.sha256.not_in(orphan),
                        ModelBlob.sha256.not_in(select(BlobLease.sha256)),
                        ModelBlob.created_at < now - grace,
                    )
                )
        return {
            "removed_blobs": len(removed),
            "freed_bytes": freed,
            "removed_tmp": stale_tmp,
            "dry_run": dry_run,
            "blobs": removed,
        }


def _decode_metric_token(token: str) -> tuple[float, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, version = json.loads(raw)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not isinstance(version, int)
        ):
            raise ValueError("bad token")
        return float(value), version
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as err:
        raise InvalidInput(
            "page_token is not one this server issued for this order; start from the first page",
            field="page_token",
        ) from err
