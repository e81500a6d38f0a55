"""How jobs move: admission from the queue (by priority, without skipping ahead) with the reason
a queued job waits, handing jobs to the backend, cancelling and deleting, applying what the
backend observes, and finalizing ended jobs (their resources back to the ledger, their outputs to
the registry). Whoever runs this (the server's ticker, the CLI, a local job's supervisor when its
job ends) moves the queue on: nothing here needs a Jupyter server.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import delete, select, update

from .. import identity
from ..errors import CapacityExceeded, Conflict, InvalidInput, LabrigError, Unavailable
from ..paths import confine_absolute, confine_relative
from ..store.tables import Dataset, Job
from .backend import JobRef, LaunchRequest, Observation
from .base import ModelOutputs, world_size
from .capacity import SharedLedger
from .queries import JobQueries
from .queue import behind_reason, waiting_reason
from .runtime import ACTIVE, FINAL, set_status, snapshot_path

VANISHED_AT_START = "processes vanished while the server was stopped"
#: How a backend's observation may move a job: to each state, from which.
MOVES = {
    "QUEUED": ("QUEUED",),
    "STARTING": ("QUEUED", "STARTING"),
    "RUNNING": ("QUEUED", "STARTING", "RUNNING"),
    **{final: ("QUEUED", *ACTIVE) for final in FINAL},
}


def holders_of(job_id: str, spec: dict[str, Any]) -> list[str]:
    """The ledger holder names of a job's ranks."""
    return [f"job:{job_id}/rank{rank}" for rank in range(world_size(spec))]


class JobLifecycle(JobQueries):
    def cancel(self, job_id: str) -> dict[str, Any]:
        row = self._row(job_id)
        if row.status in FINAL:
            raise Conflict(f"job {job_id} already ended ({row.status})", field="job_id")
        reason = "cancelled while queued" if row.status == "QUEUED" else "cancelled"
        if not set_status(
            self.db, job_id, "CANCELLED", only_from=("QUEUED", *ACTIVE), reason=reason
        ):
            return self.get(job_id)  # it ended meanwhile
        self.finalize()  # stops what runs where this server can reach it
        self.admit()
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        row = self._row(job_id)
        output_folder = self._output_folder(row)  # refused before anything is deleted
        if row.status not in FINAL:
            self.cancel(job_id)
        self.finalize()
        with self.db.session() as session:
            session.execute(delete(Job).where(Job.id == job_id))
        self.tokens.revoke("job", job_id)  # a job of another host that never finalized it
        if self._owns(row):
            self.backend.forget(self.ref(row))
        if output_folder is not None:
            shutil.rmtree(output_folder, ignore_errors=True)
        if row.snapshot_sha256 and not self.snapshot_in_use(row.snapshot_sha256):
            snapshot_path(self.data_dir, row.snapshot_sha256).unlink(missing_ok=True)

    def _output_folder(self, row: Job) -> Path | None:
        """The folder of the job's output notebook, which deleting the job removes: read back
        from the database, so checked again to be ``labrig-jobs/<id>`` under the server root."""
        if not row.output_path:
            return None
        parts = PurePosixPath(row.output_path).parts
        try:
            if parts[-3:-1] != ("labrig-jobs", row.id):
                raise InvalidInput(f"{row.output_path!r} is not in labrig-jobs/{row.id}/")
            folder = PurePosixPath(*parts[:-1]).as_posix()
            return confine_relative(folder, self.root_dir, field="output_path")
        except InvalidInput as err:
            raise Conflict(
                f"job {row.id}'s recorded output path is not one labrig made: {err.message}; "
                "nothing was deleted",
                field="output_path",
            ) from err

    # --- admission ---------------------------------------------------------------------------

    def _queued(self) -> list[Job]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Job)
                    .where(Job.status == "QUEUED", Job.backend == self.backend.identity)
                    .order_by(Job.priority.desc(), Job.created_at, Job.id)
                )
            )

    def admit(self) -> list[str]:
        """Start queued jobs, by priority then submission time, while they fit; returns ids.

        The queue does not skip ahead: when the first queued job does not fit, later ones wait,
        so a large job is not starved by a stream of small ones. Each waiting job says why.
        When the cluster admits jobs itself (Kueue), every queued job is handed over at once.
        """
        if self.backend.admits_in_cluster:
            return self._hand_over()
        started: list[str] = []
        with self.admission_lock:
            blocker: tuple[Job, str] | None = None
            for row in self._queued():
                if blocker is not None:
                    first, why = blocker
                    self._waits(row, behind_reason(first.id, first.priority, row.priority, why))
                    continue
                granted, why = self._grant(row)
                if granted is None:
                    blocker = (row, why)
                    self._waits(row, why)
                elif self._start(row, granted):
                    started.append(row.id)
        if started:
            self.finalize()
        return started

    def _hand_over(self) -> list[str]:
        """Give every queued job without a handle to the cluster; it stays QUEUED until the
        cluster admits it (``reconcile`` follows that)."""
        handed: list[str] = []
        for row in self._queued():
            if not row.handle and self._launch(row, {}, keep_queued=True):
                handed.append(row.id)
        return handed

    def _waits(self, row: Job, reason: str) -> None:
        if row.reason != reason:
            with self.db.session() as session:
                session.execute(
                    update(Job)
                    .where(Job.id == row.id, Job.status == "QUEUED")
                    .values(reason=reason)
                )

    def _grant(self, row: Job) -> tuple[dict[str, list[str]] | None, str]:
        """Reserve every rank's resources (rank -> GPU UUIDs), all or none; when they do not
        fit now, None and the reason the job waits."""
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
        except CapacityExceeded as err:
            self._release(row)
            return None, waiting_reason(err, row.id, spec, len(granted), self._kernel_paths())
        return granted, ""

    def _kernel_paths(self) -> dict[str, str]:
        """Ledger holders of interactive kernels -> their notebooks (to name them in reasons)."""
        if not isinstance(self.ledger, SharedLedger):
            return {}
        return {
            h["holder"]: h["notebook_path"]
            for h in self.ledger.gpus.holders()
            if h["holder"].startswith("kernel:") and h.get("notebook_path")
        }

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
            reason=None,
        ):
            self._release(row)
            return False
        return self._launch(row, granted, keep_queued=False)

    def _launch(self, row: Job, granted: dict[str, list[str]], *, keep_queued: bool) -> bool:
        """Hand a job to the backend and record its handle. A failure that may pass (the
        cluster unreachable, a quota) keeps a queued job queued with that reason; any other
        ends the job FAILED with it."""
        try:
            handle = self.backend.launch(self._launch_request(row, granted))
        except (Unavailable, CapacityExceeded) as err:
            if keep_queued:
                self._waits(row, f"waiting: {err.message} (labrig tries again)")
                return False
            self._fail(row, err)
            return False
        except Exception as err:  # noqa: BLE001 - any launch failure ends this job, not the server
            self._fail(row, err)
            return False
        with self.db.session() as session:
            session.execute(update(Job).where(Job.id == row.id).values(handle=handle))
        if isinstance(self.ledger, SharedLedger) and handle.get("pid"):
            for holder in holders_of(row.id, row.spec):
                self.ledger.attach(holder, int(handle["pid"]))
        return True

    def _fail(self, row: Job, err: Exception) -> None:
        reason = err.message if isinstance(err, LabrigError) else f"{type(err).__name__}: {err}"
        set_status(
            self.db,
            row.id,
            "FAILED",
            only_from=("QUEUED", *ACTIVE),
            reason=f"could not start: {reason}",
        )

    def _release(self, row: Job) -> None:
        for holder in holders_of(row.id, row.spec):
            self.ledger.release(holder)

    def _launch_request(self, row: Job, granted: dict[str, list[str]]) -> LaunchRequest:
        """What the backend needs: the snapshot, the spec, and every rank's environment (the
        job's own, its dataset mounts, and LABRIG_* lineage)."""
        spec = row.spec
        env = dict(spec.get("env", {}))
        datasets = list(spec.get("datasets", []))
        versions: dict[str, str] = {}
        if datasets and self.dataset_mounts is not None:
            env.update(self.dataset_mounts.mount_for_job(datasets, self.layout(row.id).datasets))
            versions = self.dataset_mounts.versions_of(datasets)
        elif datasets:
            with self.db.session() as session:
                for ds in session.scalars(select(Dataset).where(Dataset.name.in_(datasets))):
                    versions[ds.name] = ds.version or ""
        with self.db.session() as session:
            session.execute(update(Job).where(Job.id == row.id).values(dataset_versions=versions))
        env.update(
            {
                "LABRIG_JOB_ID": row.id,
                "LABRIG_NOTEBOOK_PATH": row.notebook_path,
                "LABRIG_SNAPSHOT_SHA256": row.snapshot_sha256 or "",
                "LABRIG_PARAMETERS": json.dumps(spec.get("parameters", {})),
                "LABRIG_DATASETS": json.dumps(versions),
                # `labrig.models.register()` in a rank records the job's owner as its user.
                identity.USER_ENV: row.owner or "",
            }
        )
        output = self.root_dir / (row.output_path or f"labrig-jobs/{row.id}/output.ipynb")
        # Ranks that reach the server act as the job's owner, with a token good for this job
        # only (revoked when it ends, ``finalize``), whoever launches it: the server, or a
        # supervisor admitting the next job while no server runs.
        token = (
            self.tokens.mint(row.owner or "", "job", row.id)
            if self.backend.ranks_use_api_token
            else None
        )
        return LaunchRequest(
            job_id=row.id,
            name=row.name,
            notebook_path=row.notebook_path,
            snapshot_sha256=row.snapshot_sha256 or "",
            snapshot=snapshot_path(self.data_dir, row.snapshot_sha256 or ""),
            spec=spec,
            env=env,
            gpus=granted,
            notebook_dir=(self.root_dir / row.notebook_path).parent,
            output_notebook=output,
            datasets=datasets,
            settings=self.settings,
            api_token=token,
        )

    # --- following the backend ---------------------------------------------------------------

    def reconcile(self, first: bool = False) -> list[str]:
        """Apply what the backend sees of this backend's active jobs; returns the ids that
        changed state. ``first``: the server just started (a local job whose processes are
        gone vanished while it was stopped)."""
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(Job).where(
                        Job.backend == self.backend.identity,
                        Job.status.in_(
                            ("QUEUED", *ACTIVE) if self.backend.admits_in_cluster else ACTIVE
                        ),
                    )
                )
            )
        if not rows:
            return []
        seen = self.backend.observe_jobs([self.ref(row) for row in rows])
        changed = []
        for row in rows:
            observed = seen.get(row.id)
            if observed is not None and self._apply(row, observed, first):
                changed.append(row.id)
        return changed

    def _apply(self, row: Job, observed: Observation, first: bool) -> bool:
        if observed.status is None or observed.status == row.status:
            if observed.reason is not None and observed.reason != row.reason:
                with self.db.session() as session:
                    session.execute(
                        update(Job)
                        .where(Job.id == row.id, Job.status == row.status)
                        .values(reason=observed.reason)
                    )
            return False
        reason = observed.reason
        if first and reason and observed.status == "FAILED" and "vanished" in reason:
            reason = VANISHED_AT_START
        return set_status(
            self.db, row.id, observed.status, only_from=MOVES[observed.status], reason=reason
        )

    def finalize(self) -> None:
        """Stop what a cancelled job still runs, release the resources of ended jobs and
        register the model outputs of succeeded ones (this backend's jobs only)."""
        with self.db.session() as session:
            ended = list(
                session.scalars(
                    select(Job).where(
                        Job.status.in_(FINAL),
                        Job.finalized.is_(False),
                        Job.backend == self.backend.identity,
                    )
                )
            )
        for row in ended:
            ref = self.ref(row)
            if row.status == "CANCELLED" and row.handle:
                self.backend.cancel(ref)
            self._release(row)
            self.tokens.revoke("job", row.id)  # its ranks have stopped, or are being stopped
            if row.output_path:
                self.backend.fetch_output(ref, self.root_dir / row.output_path)
            values: dict[str, Any] = {"finalized": True, "holds_resources": False}
            if self.model_outputs is not None:
                problem = self._register_outputs(row, ref, self.model_outputs)
                if problem:
                    values["reason"] = "; ".join(filter(None, [row.reason, problem]))
            with self.db.session() as session:
                session.execute(update(Job).where(Job.id == row.id).values(**values))

    def _register_outputs(self, row: Job, ref: JobRef, registry: ModelOutputs) -> str | None:
        """Register what an ended job left as model versions, with the job's lineage: the
        ``register`` calls its ranks staged, and its declared outputs if it succeeded. Returns
        what could not be registered, for the job's reason."""
        lineage = {
            "job_id": row.id,
            "notebook_path": row.notebook_path,
            "snapshot_sha256": row.snapshot_sha256,
            "parameters": row.spec.get("parameters", {}),
            "datasets": dict(row.dataset_versions or {}),
            # Everything a job leaves is registered by its owner (what a rank staged may not
            # say otherwise).
            "user": row.owner or "",
        }
        with tempfile.TemporaryDirectory(prefix=f"labrig-job-{row.id}-") as tmp:
            for item in self.backend.staged_outputs(ref, Path(tmp)):
                if item.declared and row.status != "SUCCEEDED":
                    continue
                try:
                    # The job may have replaced a declared output by a symlink to any file the
                    # server can read: only what really lies under the root (or was copied
                    # from shared storage into ``tmp``) is registered.
                    source = confine_absolute(item.path, [self.root_dir, tmp], field="outputs")
                    registry.register_job_outputs(
                        row.id,
                        item.rank,
                        [{"name": item.name, "path": str(source), **item.options}],
                        lineage,
                        key=item.key,
                    )
                except LabrigError as err:
                    return f"output {item.name!r} was not registered: {err.message}"
        return None
