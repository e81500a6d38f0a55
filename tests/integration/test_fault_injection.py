"""Faults a shared deployment meets, injected into a real server: the Jupyter server SIGKILLed
during a job and during a registration, one job rank SIGKILLed, and the database held by
another writer for seconds. Nothing may be lost, duplicated or left half-written."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from server_process import ServerProcess, wait_until

pytestmark = pytest.mark.slow


def write_notebook(path: Path, source: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(notebook, path)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def server(root: Path, labrig_env: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(root, labrig_env)
    running.start()
    yield running
    if running.alive():
        running.stop()


def job_processes(job_id: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("LABRIG_JOB_ID") == job_id:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def final(server: ServerProcess, job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = server.call(f"jobs/{job_id}")
        return job if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    done: dict[str, Any] = wait_until(ended, f"job {job_id} to end")
    return done


def test_a_server_killed_during_a_job_loses_and_duplicates_nothing(
    server: ServerProcess, root: Path
) -> None:
    source = (
        "import time\nfor i in range(8):\n    print('tick', i, flush=True)\n    time.sleep(0.5)"
    )
    write_notebook(root / "ticks.ipynb", source)
    job = server.call("jobs", {"notebook_path": "ticks.ipynb", "name": "survivor", "cpus": 0.5})
    wait_until(lambda: server.call(f"jobs/{job['id']}")["status"] == "RUNNING", "RUNNING")
    server.stop(signal.SIGKILL)
    server.start()
    done = final(server, job["id"])
    assert done["status"] == "SUCCEEDED", done
    listed = server.call("jobs")["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    log = server.call(f"jobs/{job['id']}/logs?rank=0")["text"]
    ticks = [line for line in log.splitlines() if line.startswith("tick ")]
    assert ticks == [f"tick {i}" for i in range(8)], log


def test_a_server_killed_during_a_registration_leaves_no_version(
    server: ServerProcess, root: Path, labrig_env: Path
) -> None:
    weights = root / "weights"
    weights.mkdir()
    block = bytes(range(256)) * 4096  # 1 MiB
    for index in range(300):
        (weights / f"shard-{index:03d}.bin").write_bytes(block + index.to_bytes(4, "big"))
    store = labrig_env / "models"
    worker = threading.Thread(
        target=lambda: _quietly(server.call, "models/killed/versions", {"path": "weights"})
    )
    worker.start()
    wait_until(lambda: store.exists() and any(p.is_file() for p in store.rglob("*")), "upload")
    server.stop(signal.SIGKILL)
    worker.join(60)
    server.start()
    status, body = server.error("models/killed")
    assert status == 404, body
    assert server.call("models")["items"] == []
    again = server.call("models/killed/versions", {"path": "weights"})
    assert again["version"] == 1
    assert len(again["files"]) == 300


def test_a_killed_rank_fails_the_job_naming_it_and_leaves_no_orphans(
    server: ServerProcess, root: Path
) -> None:
    write_notebook(
        root / "sleep.ipynb", "import time\nprint('rank up', flush=True)\ntime.sleep(120)"
    )
    body = {"notebook_path": "sleep.ipynb", "procs_per_node": 2, "cpus": 0.25}
    job = server.call("jobs", body)
    # Killed while its cell runs: a kernel that dies before it answers is started again.
    wait_until(
        lambda: "rank up" in server.call(f"jobs/{job['id']}/logs?rank=1")["text"], "rank 1's cell"
    )

    def rank_one() -> psutil.Process | None:
        procs = job_processes(job["id"])
        ranks = [p for p in procs if p.environ().get("LABRIG_RANK") == "1"]
        pids = {p.pid for p in ranks}
        tops = [p for p in ranks if p.ppid() not in pids]
        return tops[0] if tops else None

    victim = wait_until(rank_one, "rank 1's process")
    victim.kill()
    done = final(server, job["id"])
    assert done["status"] == "FAILED", done
    assert "rank 1" in (done["reason"] or ""), done
    wait_until(lambda: not job_processes(job["id"]), "no process of the job left", 60)


def test_a_database_held_by_another_writer_for_seconds_makes_requests_wait(
    server: ServerProcess, root: Path, labrig_env: Path
) -> None:
    write_notebook(root / "quick.ipynb", "print('done')")
    holder = sqlite3.connect(
        labrig_env / "labrig.db", isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN EXCLUSIVE")
    released = threading.Timer(3.0, holder.execute, ("COMMIT",))
    started = time.monotonic()
    released.start()
    try:
        model = server.call("models", {"name": "waited", "description": "held"})
        job = server.call("jobs", {"notebook_path": "quick.ipynb", "cpus": 0.5})
    finally:
        released.join()
        holder.close()
    assert time.monotonic() - started >= 2.5  # they waited for the writer rather than failing
    assert model["name"] == "waited"
    assert server.call("models/waited")["description"] == "held"
    assert final(server, job["id"])["status"] == "SUCCEEDED"


def _quietly(call: Callable[..., Any], *args: Any) -> None:
    """A request whose server is killed under it: its connection error is the expected end."""
    try:
        call(*args)
    except OSError:
        return
