"""The state every part of ``JobService`` shares: where jobs live, the hooks
``services.build_services`` wires, and how one job record is found.

``JobService`` is built in layers, one module each, every layer using only those beneath it:
``base`` (this) < ``queries`` < ``lifecycle`` < ``submission`` < ``schedules`` < ``service``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock
from sqlalchemy import Select, func, or_, select

from .. import identity
from ..errors import NotFound
from ..owners import acting
from ..store import Database
from ..store.tables import Job, JobSchedule
from ..tokens import ApiTokens
from .backend import JobBackend, JobRef
from .capacity import HostCapacity, HostTotals, Ledger
from .local import LocalJobBackend
from .runtime import JobLayout, utcnow


class DatasetMounts(Protocol):
    """``services.datasets`` as the jobs section uses it (wired in ``services.build_services``)."""

    def mount_for_job(self, names: list[str], target_root: Path) -> dict[str, str]: ...

    def versions_of(self, names: list[str]) -> dict[str, str]: ...

    def mounted_names(self) -> list[str]: ...


class ModelOutputs(Protocol):
    """``services.models`` as the jobs section uses it (wired in ``services.build_services``)."""

    def register_job_outputs(
        self,
        job_id: str,
        rank: int,
        outputs: list[dict[str, Any]],
        lineage: dict[str, Any],
        *,
        key: str | None = None,
    ) -> Any: ...


def world_size(spec: dict[str, Any]) -> int:
    """How many ranks a job's spec asks for (nodes times processes per node)."""
    return int(spec.get("nodes", 1)) * int(spec.get("procs_per_node", 1))


class JobServiceBase:
    def __init__(
        self,
        db: Database,
        data_dir: Path | str | None = None,
        root_dir: Path | str | None = None,
        *,
        ledger: Ledger | None = None,
        capacity: HostCapacity | None = None,
        backend: JobBackend | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.data_dir = Path(data_dir or os.environ.get("LABRIG_DATA_DIR") or ".").resolve()
        self.root_dir = Path(root_dir or os.getcwd()).resolve()
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity or HostCapacity(self.jobs_dir)
        #: Where ranks run (``LabrigApp.job_backend_class``); local processes by default.
        self.backend: JobBackend = backend or LocalJobBackend()
        self.backend.bind(self.data_dir, self.root_dir, db.url)
        #: Where job ranks reserve CPUs/memory/GPUs (``build_services`` passes the resources
        #: section's ledger, shared with interactive kernels).
        self.ledger: Ledger = ledger or self.capacity
        #: Optional hooks ``build_services`` wires: ``services.datasets`` and ``services.models``.
        self.dataset_mounts: DatasetMounts | None = None
        self.model_outputs: ModelOutputs | None = None
        #: The API tokens of job ranks (the server's ``services.tokens`` when it is wired, so a
        #: revocation here takes effect at once in the server's checks).
        self.tokens = ApiTokens(db)
        #: The settings this service was built from (``services.settings_json``), handed to
        #: backends so that processes outliving the server act as it would.
        self.settings: dict[str, Any] | None = None
        #: Run on a notebook path before its job is queued; raise to refuse (scratch over quota).
        self.notebook_checks: list[Callable[[str], None]] = []
        self.clock = clock
        self.admission_lock = FileLock(str(self.jobs_dir / "admission.lock"))
        self._inspected: dict[str, dict[str, dict[str, Any]]] = {}
        self._kernels: set[str] | None = None
        self._tick_lock = threading.Lock()
        self._ticked = False
        #: ``LabrigSettings.admin_users``: they see and act on every user's jobs and schedules
        #: (a request's user already comes marked; the CLI's and the Python API's does not).
        self.admin_users: tuple[str, ...] = ()

    @property
    def host(self) -> HostTotals:
        return self.capacity.totals

    def layout(self, job_id: str) -> JobLayout:
        """The job's folder on this server (snapshots of its dataset mounts live there)."""
        return JobLayout.of(self.data_dir, job_id)

    def _owns(self, row: Job) -> bool:
        """Whether this service's backend runs the job (several servers may share a database)."""
        return row.backend == self.backend.identity

    def ref(self, row: Job) -> JobRef:
        """The job as its backend is told about it."""
        since = row.starting_at or row.created_at
        return JobRef(
            id=row.id,
            handle=dict(row.handle or {}),
            spec=row.spec or {},
            notebook_dir=(self.root_dir / row.notebook_path).parent,
            status=row.status,
            age=(utcnow() - since).total_seconds(),
        )

    def snapshot_in_use(self, sha: str) -> bool:
        """Whether a job or a schedule still runs this notebook snapshot."""
        with self.db.session() as session:
            return bool(
                session.scalar(
                    select(func.count()).select_from(Job).where(Job.snapshot_sha256 == sha)
                )
                or session.scalar(
                    select(func.count())
                    .select_from(JobSchedule)
                    .where(JobSchedule.snapshot_sha256 == sha)
                )
            )

    def acting(self) -> identity.Principal:
        """Who acts on jobs now: the request's user in the server, else the CLI's or the
        Python API's user (``$LABRIG_USER`` or the OS user), an administrator when listed."""
        return acting(self.admin_users)

    def owner_now(self) -> str | None:
        """The owner a new job or schedule records: whoever acts (None when nameless)."""
        return self.acting().name or None

    def visible(self, stmt: Select[Any], table: type[Job] | type[JobSchedule]) -> Select[Any]:
        """``stmt`` narrowed to the rows the acting user may see: their own and ownerless ones
        (from before owners were recorded), or every row for an administrator."""
        principal = self.acting()
        if principal.admin:
            return stmt
        return stmt.where(or_(table.owner.is_(None), table.owner.in_(("", principal.name))))

    def _row(self, job_id: str) -> Job:
        """The job, for the acting user; another user's job is as absent as one that never
        existed, so guessing ids reveals nothing."""
        with self.db.session() as session:
            row = session.get(Job, job_id)
            if row is None or not self.acting().owns(row.owner):
                raise NotFound(
                    f"no job with id {job_id!r}; `labrig jobs ls` lists them", field="job_id"
                )
            return row
