"""The detached supervisor of one job: ``python -m labrig.jobs.supervisor JOB_DIR``.

Started by the job service in a new session, it outlives the Jupyter server: it launches the
ranks (``nodes`` torchrun agents of ``procs_per_node`` workers each, meeting through c10d
rendezvous on 127.0.0.1; a one-rank job starts its worker directly with the same environment),
moves the job to RUNNING once every rank's kernel is up, enforces the timeout and the memory
limit, stops the ranks when the job is cancelled from anywhere, and writes the final state with a
one-line reason. Then it releases what the job held and admits the next queued jobs, so the
queue moves on with no Jupyter server running.

It keeps the database URL and the settings' secrets (from its environment) to itself: its ranks
and their kernels get the server's URL and the job's API token instead (``local.py``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ..errors import Unavailable
from ..store import Database
from ..store.retry import is_transient, retrying
from ..store.tables import Job
from .launcher import single_rank_env, torchrun
from .runtime import (
    ACTIVE,
    JobLayout,
    kernel_processes_of,
    kill_tree,
    set_status,
)
from .secret_settings import DATABASE_URL_ENV, take_secrets_from_env, with_secrets
from .worker import memory_reason

POLL = 0.2
#: How often a supervisor looks for a cancel made elsewhere (seconds).
CANCEL_POLL = 1.0
#: Seconds the supervisor waits for the database to come back to record a job's state.
OUTAGE_WAIT = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def commands(job: dict[str, Any], layout: JobLayout, port: int) -> list[list[str]]:
    nodes, per_node = job["nodes"], job["procs_per_node"]
    worker = ["-m", "labrig.jobs.worker", str(layout.root)]
    if nodes * per_node == 1 or importlib.util.find_spec("torch") is None:
        return [[sys.executable, *worker]]
    return [
        torchrun(
            nodes,
            per_node,
            node,
            [
                "--rdzv-backend=c10d",
                f"--rdzv-endpoint=127.0.0.1:{port}",
                f"--rdzv-id={job['job_id']}",
                f"--rdzv-conf=is_host={'true' if node == 0 else 'false'}",
            ],
            worker,
        )
        for node in range(nodes)
    ]


class ForkedRank:
    """The only rank of a one-process job, forked from the supervisor with papermill already
    imported (one interpreter start instead of two); polled like a ``Popen``."""

    def __init__(self, layout: JobLayout, env: dict[str, str], cwd: str) -> None:
        from . import worker

        worker.import_papermill()  # once, before the fork, for the rank to reuse

        log = os.open(layout.agent_log(0), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its work is checked through its files
            code = 1
            try:
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.chdir(cwd)
                os.environ.clear()
                os.environ.update(env)
                code = worker.main([str(layout.root)])
            finally:
                os._exit(code)
        os.close(log)
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def over_memory(layout: JobLayout, world: int, limit: int | None) -> int | None:
    """The first rank whose kernel (with its children) uses more memory than ``limit``."""
    if not limit:
        return None
    for rank in range(world):
        tree = [p for p in kernel_processes_of(layout, rank)]
        used = 0
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                used += proc.memory_info().rss
        if used > limit:
            return rank
    return None


def outcome(layout: JobLayout, world: int, codes: list[int | None]) -> tuple[str, str | None]:
    """SUCCEEDED, or FAILED with the most telling rank's one-line reason."""
    results: dict[int, dict[str, Any]] = {}
    for rank in range(world):
        try:
            results[rank] = json.loads(layout.result(rank).read_text())
        except (OSError, ValueError):
            continue
    if len(results) == world and all(r.get("ok") for r in results.values()) and not any(codes):
        notes = [r["reason"] for r in results.values() if r.get("reason")]
        return "SUCCEEDED", notes[0] if notes else None
    for rank in sorted(results):
        if not results[rank].get("ok") and results[rank].get("reason"):
            return "FAILED", str(results[rank]["reason"])
    missing = [rank for rank in range(world) if rank not in results]
    if missing:
        code = next((c for c in codes if c), None)
        return "FAILED", f"rank {missing[0]} exited without a result (launcher exit code {code})"
    return "FAILED", f"a launcher exited with code {next((c for c in codes if c), None)}"


def _stop_all(procs: list[subprocess.Popen[bytes] | ForkedRank], layout: JobLayout) -> None:
    for proc in procs:
        kill_tree(proc.pid, None, None)
    kill_tree(None, None, layout)


def _status(db: Database, job_id: str) -> str | None:
    """The job's recorded state; None while the database is away for a moment (the ranks run
    on, and the next check asks again)."""
    try:
        with db.session() as session:
            return session.scalar(select(Job.status).where(Job.id == job_id))
    except (Unavailable, DBAPIError) as err:
        if not is_transient(err):
            raise
        return None


def _record(db: Database, job_id: str, status: str, **kwargs: Any) -> bool:
    """``set_status``, waiting out a database restart: the ranks have ended, and their outcome
    must not be lost to a server that is back a minute later."""
    return retrying(
        lambda: set_status(db, job_id, status, **kwargs),
        seconds=OUTAGE_WAIT,
        what=f"recording that job {job_id} is {status}",
    )


def _run(job: dict[str, Any], layout: JobLayout, db: Database) -> str:
    """Run the ranks to the end; returns the job's final state as written (or found)."""
    job_id = job["job_id"]
    world = job["nodes"] * job["procs_per_node"]
    port = free_port()
    env = {**os.environ, **job["env"], "MASTER_ADDR": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    cmds = commands(job, layout, port)
    procs: list[subprocess.Popen[bytes] | ForkedRank] = []
    if len(cmds) == 1 and "torch.distributed.run" not in cmds[0]:
        env.update(single_rank_env("127.0.0.1", port))
        procs.append(ForkedRank(layout, env, job["cwd"]))
    for node, cmd in enumerate(cmds if not procs else []):
        log = layout.agent_log(node).open("ab")
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=job["cwd"])
        )
    started = time.monotonic()
    checked = started
    timeout = job.get("timeout")
    running = False
    while True:
        codes = [proc.poll() for proc in procs]
        if all(code is not None for code in codes):
            break
        if any(code for code in codes if code is not None) and time.monotonic() - started > 0:
            # One agent failed: give the others a moment to stop their ranks, then stop them.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(p.poll() is None for p in procs):
                time.sleep(POLL)
            for proc in procs:
                if proc.poll() is None:
                    kill_tree(proc.pid, None, None)
            continue
        if timeout and time.monotonic() - started > timeout:
            _stop_all(procs, layout)
            _record(db, job_id, "FAILED", only_from=ACTIVE, reason=f"timed out after {timeout} s")
            return "FAILED"
        over = over_memory(layout, world, job.get("memory"))
        if over is not None:
            _stop_all(procs, layout)
            _record(db, job_id, "FAILED", only_from=ACTIVE, reason=memory_reason(job, over))
            return "FAILED"
        if time.monotonic() - checked > CANCEL_POLL:
            # A cancel from any server (or host) only changes the record: act on it here.
            checked = time.monotonic()
            if _status(db, job_id) == "CANCELLED":
                _stop_all(procs, layout)
                return "CANCELLED"
        if not running and all(layout.kernel_pid(rank).exists() for rank in range(world)):
            # Only when the database answers now: else the next poll tries again.
            running = _status(db, job_id) is not None and _record(
                db, job_id, "RUNNING", only_from=("STARTING",)
            )
        time.sleep(POLL)
    kill_tree(None, None, layout)  # kernels a dying rank could not take down
    status, reason = outcome(layout, world, [proc.returncode for proc in procs])
    if status == "SUCCEEDED" and not running:
        _record(db, job_id, "RUNNING", only_from=("STARTING",))
    _record(db, job_id, status, only_from=ACTIVE, reason=reason)
    return status


def move_queue_on(job: dict[str, Any], database_url: str) -> None:
    """Release what the ended job held (its token revoked, its staged registrations
    registered) and admit the next queued ones, as the server that launched it would: with its
    configuration, so jobs move on when no server runs."""
    from traitlets.config import Config

    from ..app import LabrigApp
    from ..services import build_services

    app = LabrigApp(config=Config(job.get("config") or {}))
    app.data_dir = job["data_dir"]
    app.database_url = database_url
    app.migrate_on_start = False
    services = build_services(app, root_dir=job["root_dir"])
    try:
        services.jobs.finalize()
        services.jobs.admit()
    finally:
        services.close()


def supervise(layout: JobLayout) -> int:
    job = layout.read_job()
    # The settings' secret values come through this process's environment, never job.json;
    # taken out of it before the ranks start, so they do not inherit them.
    secrets = take_secrets_from_env()
    if job.get("config") is not None:
        job["config"] = with_secrets(job["config"], secrets)
    # So is the database URL: ranks and their kernels reach the server's API with the job's
    # token instead, acting as its owner and no one else.
    database_url = os.environ.pop(DATABASE_URL_ENV)
    db = Database(database_url)
    try:
        status = _run(job, layout, db)
    finally:
        db.dispose()
    try:
        if job.get("config") is not None:
            move_queue_on(job, database_url)
    except Exception as err:  # noqa: BLE001 - the job's state is written; a server tick retries
        print(f"labrig: could not admit the next jobs: {type(err).__name__}: {err}", flush=True)
    return 0 if status == "SUCCEEDED" else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m labrig.jobs.supervisor JOB_DIR", file=sys.stderr)
        return 2
    return supervise(JobLayout(Path(args[0])))


if __name__ == "__main__":
    sys.exit(main())
