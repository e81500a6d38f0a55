"""Many servers, one database (JupyterHub: a Jupyter server per user, one PostgreSQL): each
server moves only the jobs its own backend launched, and a cancel from any server reaches the
job wherever it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from postgres_server import PostgresServer
from sqlalchemy import select

from labrig.jobs.capacity import HostCapacity
from labrig.jobs.local import LocalJobBackend
from labrig.jobs.service import JobService
from labrig.jobs.supervisor import free_port
from labrig.processes import process_alive
from labrig.services import Services
from labrig.store import Database
from labrig.store.tables import Job

pytestmark = pytest.mark.slow

TOKEN = "labrig-many-servers-test"


class Server:
    """A real Jupyter server with labrig, as one host (``LocalJobBackend.host_id``)."""

    def __init__(self, root: Path, data_dir: Path, database_url: str, host_id: str) -> None:
        self.root, self.data_dir = root, data_dir
        self.database_url, self.host_id = database_url, host_id
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "LABRIG_DATA_DIR": str(self.data_dir),
            "LABRIG_DATABASE_URL": self.database_url,
        }
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root"),
                f"--port={self.port}",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={self.root}",
                f"--LocalJobBackend.host_id={self.host_id}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.data_dir.parent / f"{self.host_id}.log").open("wb"),
        )
        until(lambda: self._answers(), 60, f"{self.host_id} started")

    def _answers(self) -> bool:
        try:
            self.call("status")
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def call(self, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/labrig/api/v1/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Authorization": f"token {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            return json.loads(response.read())

    def status_of(self, job_id: str) -> str:
        status: str = self.call(f"jobs/{job_id}")["status"]
        return status


def until(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


@pytest.fixture
def shared_database(postgres_server: PostgresServer) -> str:
    url = postgres_server.new_database()
    db = Database(url)
    db.upgrade()
    db.dispose()
    return url


@pytest.fixture
def two_servers(shared_database: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell("import time\ntime.sleep(300)")]
    nbformat.write(nb, root / "sleep.ipynb")
    servers = (
        Server(root, tmp_path / "a", shared_database, "host-a"),
        Server(root, tmp_path / "b", shared_database, "host-b"),
    )
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _handle(database_url: str, job_id: str) -> dict[str, Any]:
    db = Database(database_url)
    with db.session() as session:
        row = session.scalars(select(Job).where(Job.id == job_id)).one()
        handle, backend = dict(row.handle or {}), row.backend
    db.dispose()
    return {**handle, "backend": backend}


def test_each_server_moves_only_its_own_jobs_and_a_cancel_reaches_them_from_any(
    two_servers: tuple[Server, Server], shared_database: str
) -> None:
    a, b = two_servers
    whole_host = os.cpu_count() or 1
    submit = {"notebook_path": "sleep.ipynb", "cpus": whole_host}
    first = a.call("jobs", {**submit, "name": "first"})["id"]
    until(lambda: a.status_of(first) == "RUNNING", 90, "A's first job runs")
    # A's CPUs are all taken: A queues its second job; B, idle, must not take it.
    second = a.call("jobs", {**submit, "name": "second"})["id"]
    until(lambda: a.call(f"jobs/{second}")["reason"], 30, "A says why its second job waits")
    time.sleep(5)  # B's ticker runs every second: five chances to reconcile or admit A's jobs
    assert b.status_of(first) == "RUNNING"
    assert b.status_of(second) == "QUEUED"
    assert not (b.data_dir / "jobs" / second).exists()  # B launched nothing of A's
    running = _handle(shared_database, first)
    assert running["backend"] == "local:host-a"
    assert running["host"] == "host-a"
    assert process_alive(running["pid"], running["started"])

    # A cancel through B's REST API stops the job on A's host (its supervisor reads it) ...
    assert b.call(f"jobs/{first}/cancel", {})["status"] == "CANCELLED"
    until(lambda: not process_alive(running["pid"], running["started"]), 30, "first stops")
    # ... and A, not B, admits the job that waited for its CPUs.
    until(lambda: a.status_of(second) == "RUNNING", 90, "A starts its second job")
    started = _handle(shared_database, second)
    assert started["host"] == "host-a"
    assert not (b.data_dir / "jobs" / second).exists()
    assert b.call(f"jobs/{second}/cancel", {})["status"] == "CANCELLED"
    until(lambda: not process_alive(started["pid"], started["started"]), 30, "second stops")
    assert a.status_of(first) == a.status_of(second) == "CANCELLED"


def _server_on(services: Services, data_dir: Path, root: Path, host_id: str) -> JobService:
    """The job service one server runs, standing for host ``host_id``."""
    return JobService(
        services.db,
        data_dir / host_id,
        root,
        capacity=HostCapacity(data_dir / host_id / "capacity", cpus=4),
        backend=LocalJobBackend(host_id=host_id),
    )


def test_a_server_leaves_another_hosts_vanished_job_to_that_host(
    on_each_database: str, services: Services, labrig_env: Path, tmp_path: Path
) -> None:
    """A job launched on host A whose supervisor is gone: only A can tell that from its own
    processes, so B must not fail it (B would see no such pid on its own machine)."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with services.db.session() as session:
        session.add(
            Job(
                id="job-of-a",
                name="a",
                notebook_path="nb.ipynb",
                status="RUNNING",
                spec={"nodes": 1, "procs_per_node": 1},
                backend="local:host-a",
                handle={"host": "host-a", "pid": gone.pid, "started": 1.0},
            )
        )
    server_b = _server_on(services, labrig_env, tmp_path, "host-b")
    assert server_b.reconcile(first=True) == []
    server_b.finalize()
    assert server_b.get("job-of-a")["status"] == "RUNNING"
    server_a = _server_on(services, labrig_env, tmp_path, "host-a")
    assert server_a.reconcile(first=True) == ["job-of-a"]
    assert server_a.get("job-of-a")["status"] == "FAILED"
