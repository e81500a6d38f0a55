"""A local job's supervisor outlives the database server going away for a moment: the ranks
keep running, and the job's end is recorded once the server is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import _service
from postgres_server import PostgresServer

from labrig.jobs.local import LocalJobBackend
from labrig.jobs.service import JobService

pytestmark = pytest.mark.slow
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


@pytest.fixture
def pg_jobs(
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    root: Path,
    labrig_env: Path,
) -> Iterator[JobService]:
    monkeypatch.setenv("LABRIG_DATABASE_URL", postgres_server.new_database())
    yield from _service(request.getfixturevalue("services"), root, labrig_env, LocalJobBackend())


def test_a_job_runs_through_a_database_restart(
    pg_jobs: JobService, notebook: Any, wait: Any, postgres_server: PostgresServer
) -> None:
    notebook("slow.ipynb", "import time; time.sleep(8)", "print('done')")
    job = pg_jobs.submit({"notebook_path": "slow.ipynb"})
    wait(pg_jobs, job["id"], ("RUNNING",), timeout=120)
    postgres_server.stop()
    try:
        time.sleep(4)  # the supervisor's cancel checks (every second) find no database
    finally:
        postgres_server.start()
    done = wait(pg_jobs, job["id"], FINAL, timeout=120)
    assert done["status"] == "SUCCEEDED", done
