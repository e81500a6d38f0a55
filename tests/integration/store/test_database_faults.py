"""The database server unreachable at start, or gone for a moment during a registration:
a clear message naming the database (never its password or a traceback), and nothing
half-written."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from postgres_server import PASSWORD, PostgresServer
from sqlalchemy import select

from labrig.errors import Unavailable
from labrig.jobs.supervisor import free_port
from labrig.models.registry import ModelRegistry
from labrig.models.tables import BlobLease, ModelVersion
from labrig.store import Database
from labrig.store.db import masked_url

pytestmark = pytest.mark.slow

ADVICE = "Check that the database server is running and reachable from this host"


@pytest.fixture
def unreachable_url() -> str:
    """A PostgreSQL URL (with a password) on a port where nothing listens."""
    return f"postgresql+psycopg://labrig:{PASSWORD}@127.0.0.1:{free_port()}/labrig"


def _assert_clear(output: str, url: str) -> None:
    assert masked_url(url) in output
    assert ADVICE in output
    assert PASSWORD not in output
    assert "Traceback" not in output


def test_the_cli_says_which_database_is_unreachable_and_what_to_do(
    unreachable_url: str, labrig_env: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "LABRIG_DATABASE_URL": unreachable_url}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("labrig")), "jobs", "ls"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    _assert_clear(done.stdout + done.stderr, unreachable_url)


def test_a_server_started_on_an_unreachable_database_stops_with_the_reason(
    unreachable_url: str, labrig_env: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "LABRIG_DATABASE_URL": unreachable_url}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root"),
            f"--port={free_port()}",
            f"--ServerApp.root_dir={tmp_path}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    _assert_clear(done.stdout + done.stderr, unreachable_url)


@pytest.fixture
def registry(postgres_server: PostgresServer, tmp_path: Path) -> ModelRegistry:
    db = Database(postgres_server.new_database(), retry_seconds=20)
    db.upgrade()
    return ModelRegistry(db, (tmp_path / "store").as_uri())


def _restart_after(server: PostgresServer, seconds: float) -> threading.Thread:
    def restart() -> None:
        time.sleep(seconds)
        server.start()

    thread = threading.Thread(target=restart)
    thread.start()
    return thread


def test_a_registration_waits_out_a_database_restart(
    registry: ModelRegistry, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(os.urandom(4096))
    assert registry.register("m", weights)["version"] == 1
    postgres_server.stop()  # the pool's connections are now dead ones
    restarted = _restart_after(postgres_server, 3.0)
    try:
        started = time.monotonic()
        assert registry.register("m", weights)["version"] == 2
        assert time.monotonic() - started >= 2.5  # it did wait for the server
    finally:
        restarted.join()
    assert registry.register("m", weights)["version"] == 3
    registry.db.dispose()


def test_a_registration_that_outlasts_the_wait_fails_cleanly_with_nothing_half_written(
    registry: ModelRegistry, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(os.urandom(4096))
    registry.register("m", weights)
    registry.db.retry_seconds = 1.0
    postgres_server.stop()
    try:
        with pytest.raises(Unavailable) as failed:
            registry.register("m", weights, metrics={"loss": 0.5})
    finally:
        postgres_server.start()
    _assert_clear(failed.value.message, registry.db.url)
    with registry.db.session() as session:
        assert list(session.scalars(select(ModelVersion.version))) == [1]
        leases = list(session.scalars(select(BlobLease.lease_id)))
    assert leases == []  # the failed attempt never got as far as leasing its blob
    assert registry.register("m", weights)["version"] == 2  # no number was used up
    registry.db.dispose()
