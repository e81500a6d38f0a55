"""What labrig does when the database server is slow, gone for a moment, or never there.

SQLite is a file and fails only for local reasons; a PostgreSQL server can be restarting,
failing over, or unreachable, and under concurrent writers it may abort a transaction with a
serialization failure or a deadlock that succeeds when run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from ..errors import Unavailable

T = TypeVar("T")

#: Seconds a connection attempt to a database server may take before labrig says so (libpq
#: waits for the operating system's TCP timeout otherwise: minutes on an unreachable host).
CONNECT_TIMEOUT = 10
#: SQLSTATE classes of errors that pass when the transaction runs again: serialization
#: failures and deadlocks (40), and the server shutting down or restarting (57P).
TRANSIENT_SQLSTATES = ("40001", "40P01", "57P01", "57P02", "57P03")


def connect_options(url: URL) -> dict[str, Any]:
    """Driver options for ``create_engine``: a bounded connect time for database servers,
    unless the URL sets its own."""
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        return {"connect_timeout": CONNECT_TIMEOUT}
    return {}


def unreachable_advice(dialect: str) -> str:
    """What a user can do when the database cannot be opened."""
    if dialect == "sqlite":
        return (
            "Check LabrigApp.database_url ($LABRIG_DATABASE_URL) and that its directory is "
            "writable."
        )
    return (
        "Check that the database server is running and reachable from this host, and that "
        "LabrigApp.database_url ($LABRIG_DATABASE_URL) names it with the right user and database."
    )


def is_transient(error: BaseException) -> bool:
    """A database error that running the same work again may not hit: the server gone or
    restarting (a lost connection), or a transaction aborted by a concurrent one."""
    cause = error.__cause__ if isinstance(error, Unavailable) else error
    if not isinstance(cause, DBAPIError):
        return False
    if cause.connection_invalidated:
        return True
    sqlstate = getattr(cause.orig, "sqlstate", None)
    if sqlstate is None:
        # No SQLSTATE: the driver lost (or never got) its connection.
        return type(cause.orig).__name__ == "OperationalError"
    return str(sqlstate) in TRANSIENT_SQLSTATES


def retrying(work: Callable[[], T], *, seconds: float, what: str) -> T:
    """``work()``, run again while it fails for a transient reason, for up to ``seconds``;
    then the last failure as ``Unavailable`` naming ``what`` was being done."""
    deadline = time.monotonic() + seconds
    pause = 0.1
    while True:
        try:
            return work()
        except (Unavailable, DBAPIError) as err:
            if not is_transient(err):
                raise
            if time.monotonic() + pause > deadline:
                if isinstance(err, Unavailable):
                    raise
                raise Unavailable(f"{what} failed: {err.orig}") from err
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
