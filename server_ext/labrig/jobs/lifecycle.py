"""How jobs move: admission from the queue (by priority, without skipping ahead), launching the
detached supervisor, cancelling and deleting, reconciling records with live processes, and
finalizing ended jobs (their resources back to the ledger, their outputs to the registry)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select

from ..errors import CapacityExceeded, Conflict
from ..processes import process_alive, process_started
from ..store.tables import Dataset, Job, JobSchedule
from .base import ModelOutputs, world_size
from .capacity import SharedLedger
from .queries import JobQueries
from .runtime import (
    ACTIVE,
    FINAL,
    JobLayout,
    kill_tree,
    set_status,
    snapshot_path,
    utcnow,
)

VANISHED_AT_START = "processes vanished while the server was stopped"
VANISHED = "processes vanished (killed outside labrig?)"
NEVER_LAUNCHED = "its processes were never started (the launching process stopped)"
LAUNCH_GRACE = timedelta(seconds=60)


def holders_of(job_id: str, spec: dict[str, Any]) -> list[str]:
    """The ledger holder names of a job's ranks."""
    return [f"job:{job_id}/rank{rank}" for rank in range(world_size(spec))]


class JobLifecycle(JobQueries):
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

    def admit(self) -> list[str]:
        """Start queued jobs, by priority then submission time, while they fit; returns ids.

        The queue does not skip ahead: when the first queued job does not fit, later ones wait,
        so a large job is not starved by a stream of small ones.
        """
        started: list[str] = []
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
                granted = self._grant(row)
                if granted is None:
                    break
                if self._start(row, granted):
                    started.append(row.id)
        if started:
            self.finalize()
        return started

    def _grant(self, row: Job) -> dict[str, list[str]] | None:
        """Reserve every rank's resources (rank -> GPU UUIDs), all or none; None if they do not
        fit now."""
        spec = row.spec
        granted: dict[str, list[str]] = {}
        try:
            for rank, holder in enumerate(holders_of(row.id, spec)):
                granted[str(rank)] = self.ledger.acquire(
                    holder,
                    spec.get("cpus"),
                    spec.get("memory"),
                    int(spec.get("gpus", 0)),
                    spec.get("gpu_type"),
                )
        except CapacityExceeded:
            self._release(row)
            return None
        return granted

    def _start(self, row: Job, granted: dict[str, list[str]]) -> bool:
        """Mark a granted job STARTING and launch it; False when another process admitted it
        first (the grant is given back) or it could not be launched (it is FAILED)."""
        if not set_status(
            self.db,
            row.id,
            "STARTING",
            only_from=("QUEUED",),
            gpus_granted=granted,
            holds_resources=True,
        ):
            self._release(row)
            return False
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
            return False
        return True

    def _release(self, row: Job) -> None:
        for holder in holders_of(row.id, row.spec):
            self.ledger.release(holder)

    def _launch(self, row: Job, granted: dict[str, list[str]]) -> None:
        """Describe the job in its ``job.json`` and start its detached supervisor."""
        layout = self.layout(row.id)
        layout.root.mkdir(parents=True, exist_ok=True)
        job = self._job_file(row, granted, self._rank_env(row, layout), layout)
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
            for holder in holders_of(row.id, row.spec):
                self.ledger.attach(holder, proc.pid)

    def _rank_env(self, row: Job, layout: JobLayout) -> dict[str, str]:
        """The environment of every rank: the job's own, its dataset mounts, and LABRIG_*."""
        spec = row.spec
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
        return env

    def _job_file(
        self, row: Job, granted: dict[str, list[str]], env: dict[str, str], layout: JobLayout
    ) -> dict[str, Any]:
        """Everything the detached processes need, so they never ask the server."""
        spec = row.spec
        notebook_dir = (self.root_dir / row.notebook_path).parent
        cwd = notebook_dir if notebook_dir.is_dir() else layout.root
        output = self.root_dir / (row.output_path or f"labrig-jobs/{row.id}/output.ipynb")
        return {
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

    def _reap(self) -> None:
        self._children = [proc for proc in self._children if proc.poll() is None]

    def reconcile(self, reason: str = VANISHED) -> list[str]:
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
            self._release(row)
            if (
                row.status == "SUCCEEDED"
                and row.spec.get("outputs")
                and self.model_outputs is not None
            ):
                self._register_outputs(row, self.model_outputs)
            with self.db.session() as session:
                stored = session.get(Job, row.id)
                if stored is not None:
                    stored.finalized = True
                    stored.holds_resources = False

    def _register_outputs(self, row: Job, registry: ModelOutputs) -> None:
        """Register a succeeded job's declared outputs as model versions, with lineage."""
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
        registry.register_job_outputs(row.id, 0, outputs, lineage)

    def _pinned_datasets(self, job_id: str) -> dict[str, str]:
        """The dataset versions a job was started with (name -> version)."""
        try:
            env = self.layout(job_id).read_job()["env"]
            pinned: dict[str, str] = json.loads(env.get("LABRIG_DATASETS", "{}"))
            return pinned
        except (OSError, ValueError, KeyError):
            return {}
