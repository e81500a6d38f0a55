"""The schema on each database: Alembic's migrations build exactly the SQLAlchemy models, an old
database upgrades in place, and ``labrig db`` reports and migrates it."""

from __future__ import annotations

import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, text

from labrig.cli import cli
from labrig.models.registry import ModelRegistry
from labrig.store import Database
from labrig.store.db import masked_url
from labrig.store.tables import Base


@pytest.fixture(autouse=True)
def _each_database(on_each_database: str) -> str:
    return on_each_database


def test_an_empty_database_upgrades_to_head_with_no_pending_diff(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    db.dispose()


def test_a_database_from_the_first_release_upgrades_in_place(database_url: str) -> None:
    old = Database(database_url)
    config = old.alembic_config()
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        # A row as the first release wrote it (today's tables have columns 0001 lacks).
        connection.execute(
            text(
                "INSERT INTO models (name, description, tags, created_at)"
                " VALUES ('kept', '', '{}', CURRENT_TIMESTAMP)"
            )
        )
    old.dispose()

    new = Database(database_url)
    new.upgrade_if_needed()
    new.upgrade()  # a second start changes nothing
    assert new.current_revision() == new.head_revision()
    assert ModelRegistry(new, "file:///tmp").get("kept")["name"] == "kept"
    assert set(inspect(new.engine).get_table_names()) >= {"models", "jobs", "datasets"}
    new.dispose()


def test_labrig_db_reports_and_migrates_the_configured_database(database_url: str) -> None:
    runner = CliRunner()
    fresh = json.loads(runner.invoke(cli, ["db", "current", "--json"]).output)
    assert fresh["revision"] is None
    assert fresh["database"] == masked_url(database_url)
    assert "pg-test-secret" not in fresh["database"]
    done = runner.invoke(cli, ["db", "upgrade", "--json"])
    assert done.exit_code == 0, done.output
    state = json.loads(done.output)
    assert state["up_to_date"] is True
    assert state["dialect"] == database_url.split(":")[0].split("+")[0]
