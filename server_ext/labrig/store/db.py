"""The database handle: engine, sessions and schema migrations.

SQLite (the default, under the Jupyter data dir) runs in WAL mode so kernels, job ranks and the
CLI can read while the server writes; any other SQLAlchemy URL (PostgreSQL for a shared
deployment) goes through the same code. The schema is owned by Alembic: ``upgrade()`` brings a
database created by any older labrig to the current revision in place.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InvalidInput, Unavailable
from .retry import connect_options, retrying, unreachable_advice

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")

_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.*)$", re.MULTILINE)


@functools.cache
def head_revision_of_files() -> str | None:
    """The newest migration's revision, read from the migration files' text (Alembic's own
    ``ScriptDirectory`` imports every migration; this is for the check at every start).
    None when the files do not name exactly one head; ``upgrade()`` then decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text()
        found = _REVISION.search(source)
        down = _DOWN_REVISION.search(source)
        if found is None or down is None:
            return None
        revisions.add(found.group(1))
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: The key of the PostgreSQL advisory lock that serialises schema migrations ("labrig" in ASCII).
MIGRATION_LOCK_KEY = 0x6C6162726967


def _one_line(error: BaseException | None) -> str:
    """A driver's error on one line (libpq's add hints on lines of their own)."""
    return " ".join(str(error).split()).rstrip(".?")


def masked_url(url: str) -> str:
    """The URL with any password hidden, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


class Database:
    """One engine and session factory for a SQLAlchemy URL."""

    def __init__(self, url: str, *, retry_seconds: float = 15.0) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as err:
            raise InvalidInput(
                f"database_url {url!r} is not a SQLAlchemy URL; use e.g. "
                "sqlite:////path/labrig.db or postgresql+psycopg://user@host/db",
                field="database_url",
            ) from err
        self.url = url
        #: How long ``retrying`` runs work again while the database server is away.
        self.retry_seconds = retry_seconds
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(
            parsed,
            future=True,
            # A server restarted since a pooled connection was opened: reconnect, not fail.
            pool_pre_ping=self.dialect != "sqlite",
            connect_args=connect_options(parsed),
        )
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except OperationalError as err:
                session.rollback()
                raise Unavailable(
                    f"the labrig database at {masked_url(self.url)} failed: "
                    f"{_one_line(err.orig)}. {unreachable_advice(self.dialect)}"
                ) from err
            except BaseException:
                session.rollback()
                raise

    def retrying(self, work: Callable[[], T], what: str) -> T:
        """``work()``, run again while the database fails it for a passing reason (the server
        restarting, a serialization failure) for up to ``retry_seconds``. ``work`` must be
        safe to run twice: each of its transactions commits all or nothing, and one that may
        have committed before the connection dropped must find its own result."""
        return retrying(work, seconds=self.retry_seconds, what=what)

    # Alembic is imported where it is used: job supervisors and kernels open the database but
    # never migrate it, and importing Alembic costs them a few hundred milliseconds each.
    def alembic_config(self) -> AlembicConfig:
        from alembic.config import Config as AlembicConfig

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config

    def upgrade(self) -> None:
        """Migrate the schema to the newest revision (a no-op when it is there already)."""
        from alembic import command

        config = self.alembic_config()
        try:
            with self.engine.begin() as connection:
                if self.dialect == "postgresql":
                    # Servers and processes starting at once on a fresh database migrate one
                    # after the other: the later ones wait here, then find the schema at head.
                    # The lock is the transaction's, so it ends with the migration's commit.
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as err:
            raise Unavailable(
                f"cannot open the labrig database at {masked_url(self.url)}: "
                f"{_one_line(err.orig)}. {unreachable_advice(self.dialect)}"
            ) from err

    def upgrade_if_needed(self) -> None:
        """``upgrade()``, unless the schema is at this labrig's newest revision already: one
        query instead of importing Alembic, for every CLI command and ``labrig.connect()``."""
        head = head_revision_of_files()
        if head is not None and self._recorded_revisions() == [head]:
            return
        # Processes that open a new SQLite database at once (job ranks, parallel commands)
        # migrate it one after the other; the later ones find it done.
        with self._migration_lock():
            if head is not None and self._recorded_revisions() == [head]:
                return
            self.upgrade()

    def _migration_lock(self) -> contextlib.AbstractContextManager[Any]:
        database = make_url(self.url).database
        if self.dialect != "sqlite" or database in (None, "", ":memory:"):
            return contextlib.nullcontext()
        from filelock import FileLock

        return FileLock(str(Path(database).expanduser()) + ".migrate.lock")

    def _recorded_revisions(self) -> list[str] | None:
        """The revisions in ``alembic_version``; None when it cannot be read (a new database)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                return [str(row[0]) for row in rows]
        except DBAPIError:
            return None

    def current_revision(self) -> str | None:
        # The status the panel polls shows it: one plain query when the table has its one row,
        # rather than Alembic's context (a new Table and compiled statements each time).
        recorded = self._recorded_revisions()
        if recorded is not None and len(recorded) == 1:
            return recorded[0]
        from alembic.runtime.migration import MigrationContext

        # No table (None), an empty one, or several heads (Alembic's error): as Alembic says.
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def dispose(self) -> None:
        self.engine.dispose()
