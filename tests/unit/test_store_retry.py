"""Which database failures labrig runs again, and for how long."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from labrig.errors import Unavailable
from labrig.store.retry import CONNECT_TIMEOUT, connect_options, is_transient, retrying


def _failing(errors: list[Exception]) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "done"

    return calls, work


def test_a_lost_connection_and_a_serialization_failure_are_run_again() -> None:
    lost = OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed"))
    serialization = OperationalError("UPDATE", {}, psycopg.errors.SerializationFailure())
    as_unavailable = Unavailable("the labrig database failed")
    as_unavailable.__cause__ = lost
    calls, work = _failing([lost, serialization, as_unavailable])
    assert retrying(work, seconds=10, what="testing") == "done"
    assert len(calls) == 4


def test_a_constraint_violation_is_not_run_again() -> None:
    clash = IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation())
    assert not is_transient(clash)
    calls, work = _failing([clash])
    with pytest.raises(IntegrityError):
        retrying(work, seconds=10, what="testing")
    assert len(calls) == 1


def test_a_database_that_stays_away_fails_as_unavailable_naming_the_work() -> None:
    lost = OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))
    calls, work = _failing([lost] * 50)
    with pytest.raises(Unavailable, match="registering m failed: connection refused"):
        retrying(work, seconds=0.5, what="registering m")
    assert 2 <= len(calls) < 50


def test_database_servers_get_a_bounded_connect_time_unless_the_url_sets_one() -> None:
    assert connect_options(make_url("postgresql+psycopg://u@h/db")) == {
        "connect_timeout": CONNECT_TIMEOUT
    }
    assert connect_options(make_url("postgresql+psycopg://u@h/db?connect_timeout=3")) == {}
    assert connect_options(make_url("sqlite:////tmp/x.db")) == {}
