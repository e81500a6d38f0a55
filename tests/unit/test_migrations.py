"""The Alembic migrations and the SQLAlchemy models agree, and upgrading is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from labrig.store import Database
from labrig.store.db import head_revision_of_files
from labrig.store.tables import Base


def test_empty_database_upgrades_to_head_with_no_pending_diff(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    db.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    db.upgrade()
    with db.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
    db.dispose()


def test_the_start_up_check_knows_the_head_without_alembic(tmp_path: Path) -> None:
    """``upgrade_if_needed`` reads the head from the migration files; it must be Alembic's."""
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    assert head_revision_of_files() == db.head_revision()
    db.dispose()


def test_upgrade_if_needed_migrates_old_databases_and_skips_current_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    old = Database(url)
    config = old.alembic_config()
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    old.dispose()

    db = Database(url)
    db.upgrade_if_needed()
    assert db.current_revision() == db.head_revision()
    upgrades: list[str] = []
    monkeypatch.setattr(Database, "upgrade", lambda self: upgrades.append(self.url))
    db.upgrade_if_needed()  # at head: one query, no Alembic
    assert upgrades == []
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    empty.upgrade_if_needed()  # no alembic_version table yet
    assert upgrades == [empty.url]
    db.dispose()
    empty.dispose()


def test_current_revision_of_a_database_never_migrated_is_none(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    assert db.current_revision() is None
    db.dispose()
