"""Models and versions: create, read, list (by number, date or metric), delete, and read files.

``ModelQueries`` holds the registry's database and blob store; the alias, registration and
garbage-collection parts of ``ModelRegistry`` build on its lookups (``_model``, ``_version``,
``_aliases_of``).
"""

from __future__ import annotations

import builtins
import contextlib
from pathlib import Path
from typing import IO, Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ..paths import confine_relative, relative_part
from ..store import Database, Page, PageRequest
from ..store.pagination import paginate
from ..store.tables import RegisteredModel
from ..validation import check_fields, check_tags, check_text
from .checks import check_model_name, check_version, parse_ref
from .lineage_view import visible_lineage
from .permissions import ModelPolicy
from .serialize import (
    MODEL_COLUMNS,
    decode_metric_token,
    encode_metric_token,
    model_json,
    version_json,
)
from .store import BlobStore, Progress
from .tables import (
    ModelAlias,
    ModelAliasEvent,
    ModelCounter,
    ModelFile,
    ModelVersion,
    ModelVersionMetric,
)
from .version_query import SORT_KEYS, VersionFilters, check_sort

MODEL_FIELDS = {"name", "description", "tags"}
ORDERS = SORT_KEYS


class ModelQueries:
    """The registry's database and blob store, and reads and deletes of models and versions."""

    def __init__(
        self,
        db: Database,
        store_url: str,
        *,
        store_options: dict[str, Any] | None = None,
        cache_dir: Path | None = None,
        policy: ModelPolicy | None = None,
    ) -> None:
        self.db = db
        #: Who may register, move aliases and delete (``LabrigApp.model_*_policy``).
        self.policy = policy or ModelPolicy()
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
        self, session: Session, names: builtins.list[str], *, in_order: bool = False
    ) -> dict[str, dict[str, int]]:
        """The aliases of each model in ``names``. ``in_order``: the names are a page of the
        list (every model from the first name to the last), so one range on the key reads
        them, rather than an IN of every name."""
        found: dict[str, dict[str, int]] = {name: {} for name in names}
        if not names:
            return found
        # Plain rows, not ORM objects: the panel polls the list that calls this.
        stmt = select(ModelAlias.model_name, ModelAlias.alias, ModelAlias.version)
        if in_order:
            stmt = stmt.where(ModelAlias.model_name.between(names[0], names[-1]))
        else:
            stmt = stmt.where(ModelAlias.model_name.in_(names))
        for model_name, alias, version in session.execute(stmt):
            found[model_name][alias] = version
        return found

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            stmt = select(*MODEL_COLUMNS)
            rows = paginate(session, stmt, [RegisteredModel.name], page, columns=True)
            names = [r.name for r in rows.items]
            aliases = self._aliases_by_model(session, names, in_order=True)
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
        owner = self.policy.check("register", name, None).name
        row = RegisteredModel(name=name, description=description, tags=tags, owner=owner)
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
            self.policy.check("delete", name, self._model(session, name).owner)
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
            aliases = self._aliases_of(session, name).get(number, [])
            return self._shown(session, version_json(row, aliases, files))

    def get_ref(self, ref: str) -> dict[str, Any]:
        name, version = self.resolve(ref)
        return self.get_version(name, version)

    def list_versions(
        self,
        name: str,
        page: PageRequest,
        order_by: str | None = None,
        descending: bool = True,
        *,
        filters: VersionFilters | None = None,
        sort_field: str = "order_by",
    ) -> Page[dict[str, Any]]:
        """A page of versions sorted by ``order_by`` (version, created_at or metric:<name>) and
        narrowed by ``filters``; ``sort_field`` names the input in errors (REST says ``sort``)."""
        name = check_model_name(name)
        order_by = check_sort(order_by, sort_field)
        filters = filters or VersionFilters()
        with self.db.session() as session:
            self._model(session, name)
            aliases = self._aliases_of(session, name)
            if order_by.startswith("metric:"):
                rows = self._versions_by_metric(
                    session, name, order_by[7:], page, descending, filters
                )
            else:
                column = ModelVersion.version if order_by == "version" else ModelVersion.created_at
                order = [column] if order_by == "version" else [column, ModelVersion.version]
                stmt = filters.apply(
                    select(ModelVersion).where(ModelVersion.model_name == name), session, name
                )
                rows = paginate(session, stmt, order, page, descending=descending)
            return rows.map(lambda r: self._shown(session, version_json(r, aliases.get(r.version))))

    def _shown(self, session: Session, version: dict[str, Any]) -> dict[str, Any]:
        """A version as the acting user may see it: without another user's hidden job and
        private datasets in its lineage."""
        reader = self.policy.acting()
        version["lineage"] = visible_lineage(session, reader, version["user"], version["lineage"])
        return version

    def _versions_by_metric(
        self,
        session: Session,
        name: str,
        key: str,
        page: PageRequest,
        descending: bool,
        filters: VersionFilters,
    ) -> Page[ModelVersion]:
        """Versions that have metric ``key``, ordered by its value then by version (keyset)."""
        m = ModelVersionMetric
        stmt = (
            select(ModelVersion, m.value)
            .join(m, m.version_id == ModelVersion.id)
            .where(m.model_name == name, m.key == key)
        )
        stmt = filters.apply(stmt, session, name)
        if page.page_token:
            value, version = decode_metric_token(page.page_token)
            if descending:
                stmt = stmt.where(or_(m.value < value, and_(m.value == value, m.version < version)))
            else:
                stmt = stmt.where(or_(m.value > value, and_(m.value == value, m.version > version)))
        keys = [m.value.desc(), m.version.desc()] if descending else [m.value, m.version]
        rows = list(session.execute(stmt.order_by(*keys).limit(page.limit + 1)))
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        token = encode_metric_token(rows[-1][1], rows[-1][0].version) if more else None
        return Page([row[0] for row in rows], token)

    def delete_version(self, name: str, version: int | str) -> None:
        name = check_model_name(name)
        number = check_version(version)
        with self.db.session() as session:
            row = self._version(session, name, number)
            owner = self._model(session, name).owner
            self.policy.check("delete", name, owner, version_user=row.user)
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
        relative_part(path, field="path", within=f"version {name}/{number}")
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
            # Read back from the database: checked again, so an edited row writes nowhere else.
            target = confine_relative(item["path"], root, field="files.path")
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
