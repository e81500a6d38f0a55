"""The job service: submission, admission, lifecycle, logs/progress/metrics, and schedules.

Jobs are recorded in the state database and run by a detached supervisor per job
(``labrig.jobs.supervisor``), so the server may stop and start while they run. ``tick()`` (called
every second by the server, and once at start) reconciles records with live processes, releases
the resources of finished jobs, fires due schedules and admits queued jobs.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import nbformat
from croniter import croniter
from filelock import FileLock
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import CapacityExceeded, Conflict, InvalidInput, NotFound
from ..store import Database, Page, PageRequest
from ..store.pagination import _decode as decode_token
from ..store.pagination import paginate
from ..store.tables import Dataset, Job, JobSchedule, JobScheduleRun, ResourceRequest
from .capacity import HostCapacity, HostTotals, Ledger, SharedLedger
from .runtime import (
    ACTIVE,
    FINAL,
    STATUSES,
    JobLayout,
    json_lines,
    kill_tree,
    last_json_line,
    process_alive,
    process_started,
    read_chunk,
    set_status,
    snapshot_path,
    utcnow,
)
from .spec import JobSpec, check_parameters, form_parameters, parse_spec

__all__ = ["STATUSES", "DatasetMounts", "JobService", "ModelOutputs"]

VANISHED_AT_START = "processes vanished while the server was stopped"
VANISHED = "processes vanished (killed outside labrig?)"
NEVER_LAUNCHED = "its processes were never started (the launching process stopped)"
LAUNCH_GRACE = timedelta(seconds=60)
LOG_CHUNK = 256 * 1024


class DatasetMounts(Protocol):
    """``services.datasets`` as the jobs section uses it (wired by the lead)."""

    def mount_for_job(self, names: list[str], target_root: Path) -> dict[str, str]: ...

    def versions_of(self, names: list[str]) -> dict[str, str]: ...

    def mounted_names(self) -> list[str]: ...


class ModelOutputs(Protocol):
    """``services.models`` as the jobs section uses it (wired by the lead)."""

    def register_job_outputs(
        self, job_id: str, rank: int, outputs: list[dict[str, Any]], lineage: dict[str, Any]
    ) -> Any: ...


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_json(row: Job) -> dict[str, Any]:
    spec = row.spec or {}
    return {
        "id": row.id,
        "name": row.name,
        "notebook_path": row.notebook_path,
        "status": row.status,
        "reason": row.reason,
        "priority": row.priority,
        "world_size": int(spec.get("nodes", 1)) * int(spec.get("procs_per_node", 1)),
        "created_at": row.created_at.isoformat(),
        "starting_at": _iso(row.starting_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "snapshot_sha256": row.snapshot_sha256,
        "output_path": row.output_path,
        "schedule_id": row.schedule_id,
        "rerun_of": row.rerun_of,
        "spec": spec,
    }


def schedule_json(row: JobSchedule, next_run: datetime | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "cron": row.cron,
        "notebook_path": row.notebook_path,
        "paused": row.paused,
        "spec": row.spec,
        "snapshot_sha256": row.snapshot_sha256,
        "created_at": row.created_at.isoformat(),
        "last_occurrence": row.last_occurrence.isoformat(),
        "last_job_id": row.last_job_id,
        "next_run_at": _iso(next_run),
    }


def notebook_language(nb: Any) -> str:
    """The notebook's language, as papermill needs it to read and inject parameters."""
    meta = nb.get("metadata", {})
    return str(
        meta.get("kernelspec", {}).get("language")
        or meta.get("language_info", {}).get("name")
        or "python"
    )


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class JobService:
    def __init__(
        self,
        db: Database,
        data_dir: Path | str | None = None,
        root_dir: Path | str | None = None,
        *,
        ledger: Ledger | None = None,
        capacity: HostCapacity | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.data_dir = Path(data_dir or os.environ.get("LABRIG_DATA_DIR") or ".").resolve()
        self.root_dir = Path(root_dir or os.getcwd()).resolve()
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity or HostCapacity(self.jobs_dir)
        #: Where job ranks reserve CPUs/memory/GPUs; the lead wires ``services.resources`` here.
        self.ledger: Ledger = ledger or self.capacity
        #: Optional hooks the lead wires: ``services.datasets`` and ``services.models``.
        self.dataset_mounts: DatasetMounts | None = None
        self.model_outputs: ModelOutputs | None = None
        #: Run on a notebook path before its job is queued; raise to refuse (scratch over quota).
        self.notebook_checks: builtins.list[Callable[[str], None]] = []
        self.clock = clock
        self.admission_lock = FileLock(str(self.jobs_dir / "admission.lock"))
        self._children: builtins.list[subprocess.Popen[bytes]] = []
        self._inspected: dict[str, dict[str, dict[str, Any]]] = {}
        self._kernels: set[str] | None = None
        self._tick_lock = threading.Lock()
        self._ticked = False

    # --- paths, snapshots, notebooks ---------------------------------------------------------

    @property
    def host(self) -> HostTotals:
        return self.capacity.totals

    def resolve_notebook(self, path: str) -> Path:
        if Path(path).is_absolute() or "\x00" in path:
            raise InvalidInput(
                f"notebook_path {path!r} must be relative to the server root", field="notebook_path"
            )
        full = (self.root_dir / path).resolve()
        if not full.is_relative_to(self.root_dir):
            raise InvalidInput(
                f"notebook_path {path!r} is outside the server root", field="notebook_path"
            )
        if not full.is_file():
            raise NotFound(f"there is no notebook at {path!r}", field="notebook_path")
        if full.suffix != ".ipynb":
            raise InvalidInput(f"{path!r} is not a notebook (.ipynb)", field="notebook_path")
        return full

    def snapshot(self, full: Path) -> str:
        """Store the notebook's bytes under their sha256 and return it."""
        data = full.read_bytes()
        try:
            nbformat.reads(data.decode(), as_version=4)
        except Exception as err:
            raise InvalidInput(
                f"{full.name} is not a valid notebook: {str(err).splitlines()[0][:200]}",
                field="notebook_path",
            ) from err
        sha = hashlib.sha256(data).hexdigest()
        target = snapshot_path(self.data_dir, sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        return sha

    def inspect(self, sha: str) -> dict[str, dict[str, Any]]:
        """papermill's view of the snapshot's ``parameters`` cell: name -> {inferred_type_name,
        default, help}."""
        if sha not in self._inspected:
            from papermill.inspection import _infer_parameters

            nb = nbformat.read(snapshot_path(self.data_dir, sha), as_version=4)
            for cell in nb.cells:
                cell.metadata.setdefault("tags", [])
            try:
                params = _infer_parameters(nb, language=notebook_language(nb))
            except Exception as err:
                raise InvalidInput(
                    f"cannot read the notebook's parameters cell: {err}", field="notebook_path"
                ) from err
            self._inspected[sha] = {p.name: p._asdict() for p in params}
        return self._inspected[sha]

    def _kernel_of(self, sha: str, wanted: str | None) -> str:
        if self._kernels is None:
            from jupyter_client.kernelspec import KernelSpecManager

            self._kernels = set(KernelSpecManager().find_kernel_specs())
        if wanted is None:
            nb = json.loads(snapshot_path(self.data_dir, sha).read_text())
            wanted = nb.get("metadata", {}).get("kernelspec", {}).get("name") or "python3"
        if wanted not in self._kernels:
            raise InvalidInput(
                f"kernel {wanted!r} is not installed here; "
                f"installed: {', '.join(sorted(self._kernels))}",
                field="kernel_name",
            )
        return wanted

    def job_form(self, path: str) -> dict[str, Any]:
        """What the Run-as-job dialog shows for a notebook: its typed parameters and defaults."""
        full = self.resolve_notebook(path)
        sha = self.snapshot(full)
        params = form_parameters(self.inspect(sha))
        nb = json.loads(snapshot_path(self.data_dir, sha).read_text())
        has_cell = any(
            "parameters" in cell.get("metadata", {}).get("tags", []) for cell in nb.get("cells", [])
        )
        return {
            "notebook_path": path,
            "has_parameters_cell": has_cell,
            "note": None
            if has_cell
            else "This notebook has no cell tagged 'parameters': values are injected at the top.",
            "kernel_name": nb.get("metadata", {}).get("kernelspec", {}).get("name"),
            "parameters": params,
            "defaults": {
                "nodes": 1,
                "procs_per_node": 1,
                **self._kernel_resources(path),
                # Mounts are host-wide: every kernel, this notebook's included, sees them all.
                "datasets": self.dataset_mounts.mounted_names() if self.dataset_mounts else [],
                "priority": 0,
                "name": Path(path).stem,
            },
            "host": self.host.json(),
        }

    def _kernel_resources(self, path: str) -> dict[str, Any]:
        """Per-process defaults: what the notebook's kernel was given (its saved request)."""
        with self.db.session() as session:
            saved = session.get(ResourceRequest, path)
        if saved is None:
            return {"cpus": 1.0, "memory": None, "gpus": 0, "gpu_type": None}
        return {
            "cpus": saved.cpus or 1.0,
            "memory": saved.memory,
            "gpus": saved.gpus or 0,
            "gpu_type": saved.gpu_type,
        }

    # --- submission ----------------------------------------------------------------------------

    def _validate(self, body: dict[str, Any], sha: str | None = None) -> tuple[JobSpec, str, str]:
        spec = parse_spec(body, self.host)
        if sha is None:
            sha = self.snapshot(self.resolve_notebook(spec.notebook_path))
        check_parameters(spec.parameters, self.inspect(sha), spec.strict)
        kernel = self._kernel_of(sha, spec.kernel_name)
        if spec.datasets:
            self._check_datasets(spec.datasets)
        return spec, sha, kernel

    def _check_datasets(self, names: builtins.list[str]) -> None:
        with self.db.session() as session:
            known = set(session.scalars(select(Dataset.name).where(Dataset.name.in_(names))))
        missing = [name for name in names if name not in known]
        if missing:
            raise InvalidInput(
                f"dataset {missing[0]!r} does not exist; `labrig datasets ls` lists them",
                field="datasets",
            )

    def _new_job(
        self,
        session: Session,
        spec: JobSpec,
        sha: str,
        kernel: str,
        *,
        schedule_id: str | None = None,
        rerun_of: str | None = None,
    ) -> Job:
        job_id = new_id()
        stem = Path(spec.notebook_path).stem
        output = (
            Path(spec.notebook_path).parent / "labrig-jobs" / job_id / f"{stem}.ipynb"
        ).as_posix()
        data = spec.json()
        data["kernel_name"] = kernel
        row = Job(
            id=job_id,
            name=spec.name,
            notebook_path=spec.notebook_path,
            status="QUEUED",
            priority=spec.priority,
            spec=data,
            snapshot_sha256=sha,
            output_path=output,
            schedule_id=schedule_id,
            rerun_of=rerun_of,
            created_at=self.clock(),
            gpus_granted={},
        )
        session.add(row)
        return row

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate, snapshot and queue a job; starts it at once when it fits. Returns at once."""
        spec, sha, kernel = self._validate(body)
        for check in self.notebook_checks:
            check(spec.notebook_path)
        with self.db.session() as session:
            row = self._new_job(session, spec, sha, kernel)
            job_id = row.id
        self.admit()
        return self.get(job_id)

    def rerun(self, job_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        """The same snapshot again, with the same or edited parameters and settings."""
        old = self._row(job_id)
        changes = dict(changes or {})
        if "notebook_path" in changes:
            raise InvalidInput(
                "a re-run runs the same notebook snapshot; submit a new job for another notebook",
                field="notebook_path",
            )
        body = {k: v for k, v in old.spec.items() if v is not None}
        params = changes.pop("parameters", None)
        if params is not None and not isinstance(params, dict):
            raise InvalidInput("parameters must be an object", field="parameters")
        body.update(changes)
        body["parameters"] = {**old.spec.get("parameters", {}), **(params or {})}
        if (
            not old.snapshot_sha256
            or not snapshot_path(self.data_dir, old.snapshot_sha256).exists()
        ):
            raise Conflict(f"job {job_id}'s notebook snapshot is gone; submit the notebook again")
        spec, sha, kernel = self._validate(body, old.snapshot_sha256)
        with self.db.session() as session:
            row = self._new_job(session, spec, sha, kernel, rerun_of=job_id)
            new = row.id
        self.admit()
        return self.get(new)

    # --- reading -------------------------------------------------------------------------------

    def _row(self, job_id: str) -> Job:
        with self.db.session() as session:
            row = session.get(Job, job_id)
            if row is None:
                raise NotFound(
                    f"no job with id {job_id!r}; `labrig jobs ls` lists them", field="job_id"
                )
            return row

    def list(self, page: PageRequest, status: str | None = None) -> Page[dict[str, Any]]:
        stmt = select(Job)
        if status:
            if status not in STATUSES:
                raise InvalidInput(
                    f"status must be one of {', '.join(STATUSES)}, got {status!r}", field="status"
                )
            stmt = stmt.where(Job.status == status)
        order = [Job.created_at, Job.id]
        if page.page_token:
            # A plain range on the indexed column lets SQLite seek instead of scanning the
            # OR-form keyset condition, so page 200 costs what page 1 does.
            stmt = stmt.where(Job.created_at <= decode_token(page.page_token, order)[0])
        with self.db.session() as session:
            return paginate(session, stmt, order, page, descending=True).map(job_json)

    def get(self, job_id: str) -> dict[str, Any]:
        row = self._row(job_id)
        value = job_json(row)
        value["ranks"] = self.progress(row)
        return value

    def layout(self, job_id: str) -> JobLayout:
        return JobLayout.of(self.data_dir, job_id)

    def progress(self, row: Job) -> builtins.list[dict[str, Any]]:
        """Per rank: the cell it is on (of how many), how far it got, and for how long."""
        layout = self.layout(row.id)
        world = int(row.spec.get("nodes", 1)) * int(row.spec.get("procs_per_node", 1))
        now = utcnow().timestamp()
        ranks = []
        for rank in range(world):
            last = last_json_line(layout.progress(rank)) or {}
            cell, total = last.get("cell"), last.get("of")
            done = (cell + 1 if last.get("state") == "done" else cell) if cell is not None else 0
            if last.get("finished"):
                done = total = total or done
            ranks.append(
                {
                    "rank": rank,
                    "cell": cell,
                    "cells_done": done,
                    "cells": total,
                    "state": "finished" if last.get("finished") else last.get("state"),
                    "updated_at": last.get("t"),
                    "elapsed": round(now - row.started_at.timestamp(), 1)
                    if row.started_at and row.status == "RUNNING"
                    else None,
                }
            )
        return ranks

    def logs(
        self, job_id: str, rank: int = 0, offset: int = 0, limit: int = LOG_CHUNK
    ) -> dict[str, Any]:
        row = self._row(job_id)
        world = int(row.spec.get("nodes", 1)) * int(row.spec.get("procs_per_node", 1))
        if not 0 <= rank < world:
            raise InvalidInput(f"rank must be from 0 to {world - 1}", field="rank")
        if offset < 0:
            raise InvalidInput("offset must be 0 or more", field="offset")
        path = self.layout(job_id).log(rank)
        data, next_offset = read_chunk(path, offset, limit)
        size = path.stat().st_size if path.exists() else 0
        return {
            "rank": rank,
            "offset": offset,
            "next_offset": next_offset,
            "size": size,
            "text": data.decode("utf-8", errors="replace"),
            "done": row.status in FINAL and next_offset >= size,
        }

    def metrics(self, job_id: str) -> dict[str, Any]:
        row = self._row(job_id)
        world = int(row.spec.get("nodes", 1)) * int(row.spec.get("procs_per_node", 1))
        series: dict[str, builtins.list[dict[str, Any]]] = {}
        for rank in range(world):
            for point in json_lines(self.layout(job_id).metrics(rank)):
                series.setdefault(str(point.get("name")), []).append(
                    {"step": point.get("step"), "value": point.get("value"), "rank": rank}
                )
        return {"job_id": job_id, "metrics": series}

    def output_notebook(self, job_id: str) -> Path:
        row = self._row(job_id)
        path = self.root_dir / (row.output_path or "")
        if not row.output_path or not path.is_file():
            raise NotFound(f"job {job_id} has no output notebook yet", field="job_id")
        return path

    # --- events (for SSE) ----------------------------------------------------------------------

    def events(
        self, job_id: str, cursor: dict[str, Any]
    ) -> tuple[builtins.list[tuple[str, Any]], bool]:
        """What changed since ``cursor`` (updated in place): status, per-rank progress, new log
        lines and new metric points. The second value is True once the job is final and drained."""
        row = self._row(job_id)
        out: builtins.list[tuple[str, Any]] = []
        layout = self.layout(job_id)
        world = int(row.spec.get("nodes", 1)) * int(row.spec.get("procs_per_node", 1))
        if cursor.get("status") != (row.status, row.reason):
            cursor["status"] = (row.status, row.reason)
            out.append(("status", job_json(row)))
        progress = self.progress(row)
        if cursor.get("progress") != progress:
            cursor["progress"] = progress
            out.append(("progress", progress))
        drained = True
        for rank in range(world):
            for kind, path in (("log", layout.log(rank)), ("metric", layout.metrics(rank))):
                key = f"{kind}{rank}"
                data, offset = read_chunk(path, cursor.get(key, 0), 64 * 1024)
                if data:
                    cursor[key] = offset
                    drained = False
                    text = data.decode("utf-8", errors="replace")
                    if kind == "log":
                        out.append(("log", {"rank": rank, "text": text, "offset": offset}))
                    else:
                        points = [json.loads(line) for line in text.splitlines() if line.strip()]
                        out.append(("metric", {"rank": rank, "points": points}))
        return out, row.status in FINAL and drained

    # --- lifecycle -----------------------------------------------------------------------------

    def cancel(self, job_id: str) -> dict[str, Any]:
        row = self._row(job_id)
        if row.status in FINAL:
            raise Conflict(f"job {job_id} already ended ({row.status})", field="job_id")
        if row.status == "QUEUED" and set_status(
            self.db, job_id, "CANCELLED", only_from=("QUEUED",), reason="cancelled while queued"
        ):
            return self.get(job_id)
        set_status(self.db, job_id, "CANCELLED", only_from=ACTIVE, reason="cancelled")
        kill_tree(row.supervisor_pid, row.supervisor_started, self.layout(job_id))
        self._reap()
        self.finalize()
        self.admit()
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        row = self._row(job_id)
        if row.status not in FINAL and row.status != "QUEUED":
            self.cancel(job_id)
        elif row.status == "QUEUED":
            set_status(self.db, job_id, "CANCELLED", only_from=("QUEUED",), reason="deleted")
        self.finalize()
        with self.db.session() as session:
            session.execute(delete(Job).where(Job.id == job_id))
            in_use = session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.snapshot_sha256 == row.snapshot_sha256)
            ) or session.scalar(
                select(func.count())
                .select_from(JobSchedule)
                .where(JobSchedule.snapshot_sha256 == row.snapshot_sha256)
            )
        shutil.rmtree(self.layout(job_id).root, ignore_errors=True)
        if row.output_path:
            shutil.rmtree((self.root_dir / row.output_path).parent, ignore_errors=True)
        if row.snapshot_sha256 and not in_use:
            snapshot_path(self.data_dir, row.snapshot_sha256).unlink(missing_ok=True)

    def _holders(self, job_id: str, world: int) -> builtins.list[str]:
        return [f"job:{job_id}/rank{rank}" for rank in range(world)]

    def admit(self) -> builtins.list[str]:
        """Start queued jobs, by priority then submission time, while they fit; returns ids.

        The queue does not skip ahead: when the first queued job does not fit, later ones wait,
        so a large job is not starved by a stream of small ones.
        """
        started: builtins.list[str] = []
        with self.admission_lock:
            with self.db.session() as session:
                queued = list(
                    session.scalars(
                        select(Job)
                        .where(Job.status == "QUEUED")
                        .order_by(Job.priority.desc(), Job.created_at, Job.id)
                    )
                )
            for row in queued:
                spec = row.spec
                world = int(spec["nodes"]) * int(spec["procs_per_node"])
                granted: dict[str, builtins.list[str]] = {}
                holders = self._holders(row.id, world)
                try:
                    for rank, holder in enumerate(holders):
                        granted[str(rank)] = self.ledger.acquire(
                            holder,
                            spec.get("cpus"),
                            spec.get("memory"),
                            int(spec.get("gpus", 0)),
                            spec.get("gpu_type"),
                        )
                except CapacityExceeded:
                    for holder in holders:
                        self.ledger.release(holder)
                    break
                if not set_status(
                    self.db,
                    row.id,
                    "STARTING",
                    only_from=("QUEUED",),
                    gpus_granted=granted,
                    holds_resources=True,
                ):
                    for holder in holders:
                        self.ledger.release(holder)
                    continue
                try:
                    self._launch(row, granted)
                except Exception as err:  # noqa: BLE001 - any launch failure ends this job, not the server
                    reason = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
                    set_status(
                        self.db,
                        row.id,
                        "FAILED",
                        only_from=ACTIVE,
                        reason=f"could not start: {reason}",
                    )
                    continue
                started.append(row.id)
        if started:
            self.finalize()
        return started

    def _launch(self, row: Job, granted: dict[str, builtins.list[str]]) -> None:
        spec = row.spec
        layout = self.layout(row.id)
        layout.root.mkdir(parents=True, exist_ok=True)
        env = dict(spec.get("env", {}))
        datasets = list(spec.get("datasets", []))
        versions: dict[str, str] = {}
        if datasets and self.dataset_mounts is not None:
            env.update(self.dataset_mounts.mount_for_job(datasets, layout.root / "datasets"))
            versions = self.dataset_mounts.versions_of(datasets)
        elif datasets:
            with self.db.session() as session:
                for ds in session.scalars(select(Dataset).where(Dataset.name.in_(datasets))):
                    versions[ds.name] = ds.version or ""
        env.update(
            {
                "LABRIG_JOB_ID": row.id,
                "LABRIG_NOTEBOOK_PATH": row.notebook_path,
                "LABRIG_SNAPSHOT_SHA256": row.snapshot_sha256 or "",
                "LABRIG_PARAMETERS": json.dumps(spec.get("parameters", {})),
                "LABRIG_DATASETS": json.dumps(versions),
                "LABRIG_DATA_DIR": str(self.data_dir),
                "LABRIG_DATABASE_URL": self.db.url,
            }
        )
        notebook_dir = (self.root_dir / row.notebook_path).parent
        cwd = notebook_dir if notebook_dir.is_dir() else layout.root
        output = self.root_dir / (row.output_path or f"labrig-jobs/{row.id}/output.ipynb")
        job = {
            "job_id": row.id,
            "database_url": self.db.url,
            "snapshot": str(snapshot_path(self.data_dir, row.snapshot_sha256 or "")),
            "parameters": spec.get("parameters", {}),
            "kernel_name": spec.get("kernel_name"),
            "nodes": int(spec["nodes"]),
            "procs_per_node": int(spec["procs_per_node"]),
            "timeout": spec.get("timeout"),
            "memory": spec.get("memory"),
            "env": env,
            "gpus": granted,
            "cwd": str(cwd),
            "output_notebook": str(output),
        }
        layout.job_file.write_text(json.dumps(job, indent=1))
        with layout.supervisor_log.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "labrig.jobs.supervisor", str(layout.root)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(layout.root),
                start_new_session=True,
            )
        self._children.append(proc)
        with self.db.session() as session:
            stored = session.get(Job, row.id)
            if stored is not None:
                stored.supervisor_pid = proc.pid
                stored.supervisor_started = process_started(proc.pid)
        if isinstance(self.ledger, SharedLedger):
            world = int(spec["nodes"]) * int(spec["procs_per_node"])
            for holder in self._holders(row.id, world):
                self.ledger.attach(holder, proc.pid)

    def _reap(self) -> None:
        self._children = [proc for proc in self._children if proc.poll() is None]

    def reconcile(self, reason: str = VANISHED) -> builtins.list[str]:
        """Active jobs whose supervisor is gone are FAILED with ``reason``."""
        self._reap()
        failed = []
        with self.db.session() as session:
            active = list(session.scalars(select(Job).where(Job.status.in_(ACTIVE))))
        for row in active:
            if row.supervisor_pid is None:
                # Being launched right now by another process, unless that was long ago.
                stale = row.starting_at and row.starting_at < utcnow() - LAUNCH_GRACE
                if stale and set_status(
                    self.db, row.id, "FAILED", only_from=ACTIVE, reason=NEVER_LAUNCHED
                ):
                    failed.append(row.id)
                continue
            # The supervisor may have written the final state just before exiting.
            alive = process_alive(row.supervisor_pid, row.supervisor_started)
            if not alive and set_status(self.db, row.id, "FAILED", only_from=ACTIVE, reason=reason):
                kill_tree(None, None, self.layout(row.id))
                failed.append(row.id)
        return failed

    def finalize(self) -> None:
        """Release the resources of ended jobs and register the model outputs of succeeded ones."""
        with self.db.session() as session:
            ended = list(
                session.scalars(select(Job).where(Job.status.in_(FINAL), Job.finalized.is_(False)))
            )
        for row in ended:
            world = int(row.spec.get("nodes", 1)) * int(row.spec.get("procs_per_node", 1))
            for holder in self._holders(row.id, world):
                self.ledger.release(holder)
            if (
                row.status == "SUCCEEDED"
                and row.spec.get("outputs")
                and self.model_outputs is not None
            ):
                notebook_dir = (self.root_dir / row.notebook_path).parent
                outputs = [
                    {"name": o["name"], "path": str((notebook_dir / o["path"]).resolve())}
                    for o in row.spec["outputs"]
                ]
                lineage = {
                    "job_id": row.id,
                    "notebook_path": row.notebook_path,
                    "snapshot_sha256": row.snapshot_sha256,
                    "parameters": row.spec.get("parameters", {}),
                    "datasets": self._pinned_datasets(row.id),
                }
                self.model_outputs.register_job_outputs(row.id, 0, outputs, lineage)
            with self.db.session() as session:
                stored = session.get(Job, row.id)
                if stored is not None:
                    stored.finalized = True
                    stored.holds_resources = False

    def _pinned_datasets(self, job_id: str) -> dict[str, str]:
        """The dataset versions a job was started with (name -> version)."""
        try:
            env = self.layout(job_id).read_job()["env"]
            pinned: dict[str, str] = json.loads(env.get("LABRIG_DATASETS", "{}"))
            return pinned
        except (OSError, ValueError, KeyError):
            return {}

    def tick(self) -> None:
        """One round of housekeeping; the first one after start reconciles with what runs."""
        with self._tick_lock:
            first = not self._ticked
            self._ticked = True
            self.reconcile(VANISHED_AT_START if first else VANISHED)
            self.finalize()
            self.fire_schedules()
            self.admit()

    # --- schedules -----------------------------------------------------------------------------

    def _schedule_row(self, session: Session, schedule_id: str) -> JobSchedule:
        row = session.get(JobSchedule, schedule_id)
        if row is None:
            raise NotFound(f"no schedule with id {schedule_id!r}", field="schedule_id")
        return row

    @staticmethod
    def _check_cron(cron: Any) -> str:
        if not isinstance(cron, str) or not croniter.is_valid(cron) or len(cron.split()) != 5:
            raise InvalidInput(
                f"cron {cron!r} is not a 5-field cron expression, e.g. '0 3 * * *' (03:00 daily)",
                field="cron",
            )
        return cron

    def _next_run(self, row: JobSchedule) -> datetime | None:
        if row.paused:
            return None
        nxt: datetime = croniter(row.cron, row.last_occurrence).get_next(datetime)
        return nxt

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body.get("job"), dict):
            raise InvalidInput("job is required: the job to submit at each occurrence", field="job")
        unknown = sorted(set(body) - {"cron", "job", "name", "paused"})
        if unknown:
            raise InvalidInput(f"unknown field {unknown[0]!r} for a schedule", field=unknown[0])
        cron = self._check_cron(body.get("cron"))
        spec, sha, kernel = self._validate(body["job"])
        data = spec.json()
        data["kernel_name"] = kernel
        now = self.clock()
        with self.db.session() as session:
            row = JobSchedule(
                id=new_id(),
                name=str(body.get("name") or spec.name)[:255],
                cron=cron,
                notebook_path=spec.notebook_path,
                spec=data,
                snapshot_sha256=sha,
                paused=bool(body.get("paused", False)),
                created_at=now,
                last_occurrence=now,
            )
            session.add(row)
            return schedule_json(row, self._next_run(row))

    def list_schedules(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            order = [JobSchedule.created_at, JobSchedule.id]
            rows = paginate(session, select(JobSchedule), order, page, descending=True)
            return rows.map(lambda row: schedule_json(row, self._next_run(row)))

    def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._schedule_row(session, schedule_id)
            return schedule_json(row, self._next_run(row))

    def set_paused(self, schedule_id: str, paused: bool) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._schedule_row(session, schedule_id)
            if row.paused and not paused:
                # Resuming does not replay the occurrences missed while paused.
                row.last_occurrence = max(row.last_occurrence, self.clock())
            row.paused = paused
            return schedule_json(row, self._next_run(row))

    def delete_schedule(self, schedule_id: str) -> None:
        with self.db.session() as session:
            row = self._schedule_row(session, schedule_id)
            session.execute(delete(JobScheduleRun).where(JobScheduleRun.schedule_id == row.id))
            session.delete(row)

    def run_schedule_now(self, schedule_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._schedule_row(session, schedule_id)
            spec = parse_spec({k: v for k, v in row.spec.items() if v is not None}, self.host)
            job = self._new_job(
                session, spec, row.snapshot_sha256, row.spec["kernel_name"], schedule_id=row.id
            )
            job_id = job.id
        self.admit()
        return self.get(job_id)

    def _due(self, row: JobSchedule, now: datetime) -> datetime | None:
        """The latest occurrence after the last fired one and not after ``now`` (occurrences
        missed while the server was down collapse into one run)."""
        it = croniter(row.cron, row.last_occurrence)
        due = None
        for _ in range(10000):
            nxt: datetime = it.get_next(datetime)
            if nxt > now:
                return due
            due = nxt
        latest: datetime = croniter(row.cron, now + timedelta(seconds=1)).get_prev(datetime)
        return latest

    def fire_schedules(self) -> builtins.list[str]:
        now = self.clock()
        fired = []
        with self.db.session() as session:
            rows = list(session.scalars(select(JobSchedule).where(JobSchedule.paused.is_(False))))
        for sched in rows:
            occurrence = self._due(sched, now)
            if occurrence is None:
                continue
            try:
                with self.db.session() as session:
                    spec = parse_spec(
                        {k: v for k, v in sched.spec.items() if v is not None}, self.host
                    )
                    job = self._new_job(
                        session,
                        spec,
                        sched.snapshot_sha256,
                        sched.spec["kernel_name"],
                        schedule_id=sched.id,
                    )
                    session.add(
                        JobScheduleRun(schedule_id=sched.id, occurrence=occurrence, job_id=job.id)
                    )
                    stored = session.get(JobSchedule, sched.id)
                    if stored is not None:
                        stored.last_occurrence = occurrence
                        stored.last_job_id = job.id
                    fired.append(job.id)
            except IntegrityError:
                continue  # another process fired this occurrence first
        return fired

    def schedule_runs(self, schedule_id: str) -> builtins.list[dict[str, Any]]:
        with self.db.session() as session:
            self._schedule_row(session, schedule_id)
            runs = session.scalars(
                select(JobScheduleRun)
                .where(JobScheduleRun.schedule_id == schedule_id)
                .order_by(JobScheduleRun.occurrence)
            )
            return [{"occurrence": r.occurrence.isoformat(), "job_id": r.job_id} for r in runs]
