"""What the service, the supervisor and the workers share: the on-disk layout of a job, status
updates that never overwrite a final state, and process-tree handling.

A job's directory (``<data_dir>/jobs/<job_id>/``) holds ``job.json`` (everything the detached
processes need, so they never ask the server, but no secret: see ``secret_settings``), one
folder per rank with ``log.txt``, ``progress.jsonl``, ``metrics.jsonl``, ``result.json``,
``kernel.pid`` and (ranks > 0) ``output.ipynb``; rank 0 writes its output notebook under the
server root so JupyterLab opens it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, update

from ..errors import InvalidInput
from ..processes import process_alive, process_started
from ..store import Database
from ..store.tables import Job, utcnow

ACTIVE = ("STARTING", "RUNNING")
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
STATUSES = ("QUEUED", *ACTIVE, *FINAL)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class JobLayout:
    root: Path

    @classmethod
    def of(cls, data_dir: Path, job_id: str) -> JobLayout:
        return cls(Path(data_dir) / "jobs" / job_id)

    @property
    def job_file(self) -> Path:
        return self.root / "job.json"

    @property
    def datasets(self) -> Path:
        """Where the job's read-only dataset mounts are built."""
        return self.root / "datasets"

    @property
    def supervisor_log(self) -> Path:
        return self.root / "supervisor.log"

    def agent_log(self, node: int) -> Path:
        return self.root / f"agent{node}.log"

    def rank_dir(self, rank: int) -> Path:
        return self.root / "ranks" / str(rank)

    def log(self, rank: int) -> Path:
        return self.rank_dir(rank) / "log.txt"

    def progress(self, rank: int) -> Path:
        return self.rank_dir(rank) / "progress.jsonl"

    def metrics(self, rank: int) -> Path:
        return self.rank_dir(rank) / "metrics.jsonl"

    def result(self, rank: int) -> Path:
        return self.rank_dir(rank) / "result.json"

    def kernel_pid(self, rank: int) -> Path:
        return self.rank_dir(rank) / "kernel.pid"

    def output(self, rank: int) -> Path:
        return self.rank_dir(rank) / "output.ipynb"

    def read_job(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.job_file.read_text())
        return value


def snapshot_path(data_dir: Path, sha256: str) -> Path:
    """Where a notebook snapshot is stored. Its name is its sha256 and nothing else, so a value
    read from the database or from a URL cannot lead out of the snapshots folder."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise InvalidInput(
            f"{str(sha256)[:80]!r} is not a notebook snapshot's sha256 (64 hex digits)",
            field="snapshot_sha256",
        )
    return Path(data_dir) / "snapshots" / f"{sha256}.ipynb"


def set_status(
    db: Database, job_id: str, status: str, *, only_from: tuple[str, ...], **fields: Any
) -> bool:
    """Move a job to ``status`` if it is in one of ``only_from``; False when it was not (for
    instance a supervisor finishing a job that was cancelled meanwhile)."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, **fields}
    # A cluster may move a job past a state labrig did not see (QUEUED straight to RUNNING, or
    # to its end while the server was down): the earlier timestamps are filled, never moved.
    if status == "STARTING":
        values.setdefault("starting_at", now)
    elif status in ("RUNNING", "SUCCEEDED"):
        values.setdefault("starting_at", func.coalesce(Job.starting_at, now))
    if status == "RUNNING":
        values.setdefault("started_at", now)
    elif status == "SUCCEEDED":
        values.setdefault("started_at", func.coalesce(Job.started_at, now))
    if status in FINAL:
        values.setdefault("finished_at", now)
    with db.session() as session:
        result = session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_(only_from)).values(**values)
        )
        return bool(getattr(result, "rowcount", 0))


def write_pid_file(path: Path, pid: int) -> None:
    path.write_text(f"{pid} {process_started(pid) or 0}\n")


def _pid_file_process(path: Path) -> psutil.Process | None:
    try:
        pid_text, started_text = path.read_text().split()
        proc = psutil.Process(int(pid_text))
        if abs(proc.create_time() - float(started_text)) > 0.05:
            return None
        return proc
    except (OSError, ValueError, psutil.Error):
        return None


def _with_children(proc: psutil.Process | None) -> list[psutil.Process]:
    if proc is None:
        return []
    found = [proc]
    with contextlib.suppress(psutil.Error):
        found.extend(proc.children(recursive=True))
    return found


def kernel_processes(layout: JobLayout) -> list[psutil.Process]:
    """The kernels the ranks started (they run in their own sessions, so a process-group kill
    would miss them) and everything below them."""
    found: list[psutil.Process] = []
    for pid_file in layout.root.glob("ranks/*/kernel.pid"):
        found.extend(_with_children(_pid_file_process(pid_file)))
    return found


def kernel_processes_of(layout: JobLayout, rank: int) -> list[psutil.Process]:
    """One rank's kernel and everything below it (none before the kernel is up)."""
    return _with_children(_pid_file_process(layout.kernel_pid(rank)))


def kill_tree(pid: int | None, started: float | None, layout: JobLayout | None) -> int:
    """SIGKILL a job's supervisor, its descendants and its kernels; returns how many were hit.

    The tree is collected before anything is killed, so no child is reparented out of sight.
    """
    procs: list[psutil.Process] = []
    if pid is not None and process_alive(pid, started):
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            procs.append(root)
            procs.extend(root.children(recursive=True))
    if layout is not None:
        procs.extend(kernel_processes(layout))
    unique = {proc.pid: proc for proc in procs if proc.pid != os.getpid()}
    for proc in unique.values():
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(list(unique.values()), timeout=5)
    return len(unique)


def read_chunk(path: Path, offset: int, limit: int) -> tuple[bytes, int]:
    """Up to ``limit`` bytes of ``path`` from ``offset``, ending at a line break when one is
    there (so a reader never sees half a line), and the offset to continue from."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read(limit)
    except FileNotFoundError:
        return b"", offset
    if len(data) == limit:
        cut = data.rfind(b"\n")
        if cut >= 0:
            data = data[: cut + 1]
    elif data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else b""
    return data, offset + len(data)


def last_json_line(path: Path) -> dict[str, Any] | None:
    """The last complete JSON line of a small append-only file, reading only its tail."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4096))
            tail = f.read()
    except FileNotFoundError:
        return None
    for line in reversed(tail.splitlines()):
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                return value
    return None


def json_points(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a chunk of JSON lines (lines that are not one are skipped)."""
    out = []
    for line in data.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                out.append(value)
    return out
