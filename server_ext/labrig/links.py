"""Cross-links between the sections: what a job ran with and registered, who uses a dataset, and
a job's notebook snapshot.

Read-only views over the services, so the panel, the CLI and the Python API follow one object to
the next with one call each. Jobs are read through ``JobService``'s public methods (``get``,
``list``) and the tables every section shares; nothing here writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .errors import InvalidInput, NotFound
from .jobs.runtime import snapshot_path
from .models.tables import ModelVersion
from .resources.tables import GpuAllocation
from .store import PageRequest
from .store.tables import Dataset, Job, JobSchedule

if TYPE_CHECKING:
    from .services import Services

SHA256 = re.compile(r"[0-9a-f]{64}")
JOB_HOLDER = re.compile(r"job:(?P<id>.+)/rank(?P<rank>\d+)")
#: Jobs that may still be reading their datasets.
ACTIVE = ("QUEUED", "STARTING", "RUNNING")
#: Most jobs of one status looked at when asking who uses a dataset.
ACTIVE_SCAN = 500
#: Another user's private dataset as a cross-link shows it: that one was read, never which.
HIDDEN_DATASET: dict[str, Any] = {
    "name": None,
    "version": None,
    "exists": True,
    "current_version": None,
    "private": True,
    "hidden": True,
}


def short(value: str) -> str:
    """The first characters of an id or hash, as people quote them: ``1a2b3c4d…``."""
    return value if len(value) <= 8 else f"{value[:8]}…"


def check_sha256(value: Any, field: str = "sha256") -> str:
    if not isinstance(value, str) or not SHA256.fullmatch(value):
        raise InvalidInput(
            f"{field} must be 64 lowercase hexadecimal characters, got {value!r}", field=field
        )
    return value


class Links:
    """The cross-links of one set of services."""

    def __init__(self, services: Services) -> None:
        self.services = services

    # -- jobs --------------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any]:
        """A job, or NotFound saying it was deleted (links point at jobs that existed)."""
        try:
            return self.services.jobs.get(job_id)
        except NotFound as err:
            raise NotFound(
                f"job {short(job_id)} was deleted (or never existed); `labrig jobs ls` lists "
                "the jobs there are",
                field="job_id",
            ) from err

    def visible_job(self, job_id: str) -> tuple[dict[str, Any] | None, bool]:
        """The job as the acting user sees it, and whether it is hidden from them.

        ``(job, False)`` for their own (or, for an administrator, any) job; ``(None, True)``
        for another user's job, which exists but shows nothing about itself; ``(None, False)``
        for a job that was deleted.
        """
        try:
            return self.services.jobs.get(job_id), False
        except NotFound:
            with self.services.db.session() as session:
                return None, session.get(Job, job_id) is not None

    def job_links(self, job_id: str) -> dict[str, Any]:
        """The datasets (with versions) and resources a job ran with, its notebook snapshot and
        the model versions it registered."""
        job = self.job(job_id)
        spec = job.get("spec") or {}
        registered = self.registered_by(job_id)
        return {
            "job_id": job["id"],
            "name": job["name"],
            "status": job["status"],
            "notebook_path": job["notebook_path"],
            "parameters": spec.get("parameters") or {},
            "snapshot": self.snapshot_ref(job.get("snapshot_sha256")),
            "datasets": self.datasets(self.job_dataset_versions(job, registered)),
            "resources": self.resources(job),
            "model_versions": registered,
        }

    def job_dataset_versions(
        self, job: dict[str, Any], registered: list[dict[str, Any]] | None = None
    ) -> dict[str, str | None]:
        """name -> the version the job mounted (None when it was never recorded)."""
        names = list((job.get("spec") or {}).get("datasets") or [])
        versions: dict[str, str | None] = dict.fromkeys(names)
        versions.update(job.get("dataset_versions") or {})
        # A version a rank registered names the datasets it read, even for a job record that
        # predates recorded versions.
        for item in registered or []:
            for name, version in (item.get("datasets") or {}).items():
                if versions.get(name) is None:
                    versions[name] = version
        return versions

    def resources(self, job: dict[str, Any]) -> dict[str, Any]:
        spec = job.get("spec") or {}
        with self.services.db.session() as session:
            row = session.get(Job, job["id"])
            granted = dict(getattr(row, "gpus_granted", None) or {}) if row is not None else {}
        return {
            "nodes": int(spec.get("nodes", 1)),
            "procs_per_node": int(spec.get("procs_per_node", 1)),
            "world_size": job.get("world_size", 1),
            "cpus": spec.get("cpus"),
            "memory": spec.get("memory"),
            "gpus": int(spec.get("gpus", 0) or 0),
            "gpu_type": spec.get("gpu_type"),
            "gpus_granted": {str(k): list(v) for k, v in granted.items()},
        }

    def registered_by(self, job_id: str) -> list[dict[str, Any]]:
        """Model versions whose lineage names the job (its declared outputs and what its ranks
        registered with ``labrig.models.register``)."""
        with self.services.db.session() as session:
            rows = session.scalars(
                select(ModelVersion)
                .where(ModelVersion.lineage["job_id"].as_string() == job_id)
                .order_by(ModelVersion.model_name, ModelVersion.version)
            )
            return [
                {
                    "model": row.model_name,
                    "version": row.version,
                    "ref": f"{row.model_name}/{row.version}",
                    "created_at": row.created_at.isoformat(),
                    "metrics": dict(row.metrics or {}),
                    "rank": (row.lineage or {}).get("rank"),
                    "datasets": dict((row.lineage or {}).get("datasets") or {}),
                }
                for row in rows
            ]

    # -- datasets ----------------------------------------------------------------------------

    def datasets(self, versions: dict[str, str | None]) -> list[dict[str, Any]]:
        """Each (name, version) with whether the catalog still has it and its pinned version.

        Another user's private dataset does not exist for the acting user (the catalog answers
        404 for it), so its reference names neither it nor its version: ``HIDDEN_DATASET``.
        """
        principal = self.services.jobs.acting()
        with self.services.db.session() as session:
            found = {
                row.name: row
                for row in session.execute(
                    select(Dataset.name, Dataset.version, Dataset.private, Dataset.owner).where(
                        Dataset.name.in_(list(versions))
                    )
                )
            }
        refs, hidden = [], []
        for name, version in sorted(versions.items()):
            row = found.get(name)
            if row is not None and row.private and not principal.owns(row.owner):
                hidden.append(dict(HIDDEN_DATASET))  # last: where its name sorts says nothing
                continue
            refs.append(
                {
                    "name": name,
                    "version": version,
                    "exists": row is not None,
                    "current_version": row.version if row is not None else None,
                    "private": bool(row is not None and row.private),
                    "hidden": False,
                }
            )
        return refs + hidden

    def dataset_users(self, name: str, sessions: list[dict[str, Any]]) -> dict[str, Any]:
        """Running kernels that see the dataset's host mount and active jobs that mount it.

        ``sessions`` are the Jupyter server's sessions; every kernel on this host sees a host
        mount, so while the dataset is mounted each running kernel is listed.
        """
        info = self.services.datasets.get(name)
        mount = info.get("mount_path")
        kernels = []
        if mount:
            seen: set[str] = set()
            for item in sessions:
                kernel = item.get("kernel") or {}
                if not kernel.get("id") or kernel["id"] in seen:
                    continue
                seen.add(kernel["id"])
                kernels.append(
                    {
                        "kernel_id": kernel["id"],
                        "kernel_name": kernel.get("name"),
                        "notebook_path": item.get("path"),
                        "execution_state": kernel.get("execution_state"),
                    }
                )
        jobs = []
        for status in ACTIVE:
            page = self.services.jobs.list(PageRequest(limit=ACTIVE_SCAN), status)
            for job in page.items:
                if name in ((job.get("spec") or {}).get("datasets") or []):
                    jobs.append(
                        {
                            "id": job["id"],
                            "name": job["name"],
                            "status": job["status"],
                            "notebook_path": job["notebook_path"],
                        }
                    )
        return {
            "dataset": name,
            "version": info.get("version"),
            "mount_path": mount,
            "kernels": kernels,
            "jobs": jobs,
        }

    # -- GPUs --------------------------------------------------------------------------------

    def gpu_holders(self) -> dict[str, Any]:
        """This host's GPUs and the job rank or kernel holding each, read as they are.

        Unlike the capacity report, which first frees what dead holders held (and removes their
        cgroups), reading this changes nothing: a panel polls it, and must not race the kernel
        provisioner that is still reading a just-stopped kernel's memory cgroup.
        """
        resources = self.services.resources
        with self.services.db.session() as session:
            held = {a.uuid: a.holder for a in session.scalars(select(GpuAllocation))}
        holders = {h["holder"]: h for h in resources.holders()} if held else {}
        gpus = []
        for gpu in resources.inventory():
            holder = held.get(gpu.uuid)
            info = holders.get(holder or "")
            item: dict[str, Any] = {
                **gpu.json(),
                "holder": holder,
                "alive": bool(info and info["alive"]),
                "notebook_path": info["notebook_path"] if info else None,
                "job": None,
                "kernel_id": None,
            }
            match = JOB_HOLDER.fullmatch(holder or "")
            if match:
                item["job"] = self._job_ref(match["id"], int(match["rank"]))
                if item["job"]["hidden"]:
                    item["notebook_path"] = None  # what another user's job runs is theirs
            elif holder and holder.startswith("kernel:"):
                item["kernel_id"] = holder.removeprefix("kernel:")
            gpus.append(item)
        return {"gpus": gpus}

    def capacity(self) -> dict[str, Any]:
        """The capacity report as the acting user may read it: a GPU held by a rank of another
        user's job keeps its holder (the job's id, as in the holders list) but not the notebook
        that job runs."""
        report = self.services.resources.capacity()
        for gpu in report["gpu_devices"]:
            match = JOB_HOLDER.fullmatch(gpu.get("holder") or "")
            if match and self.visible_job(match["id"])[1]:
                gpu["notebook_path"] = None
        return report

    def _job_ref(self, job_id: str, rank: int) -> dict[str, Any]:
        """The job a GPU's holder names. Another user's job keeps only its id (already in the
        holder, and useless to anyone but its owner and administrators) and ``hidden``; a
        deleted one has neither name nor status and is not hidden."""
        job, hidden = self.visible_job(job_id)
        return {
            "id": job_id,
            "rank": rank,
            "name": job["name"] if job else None,
            "status": job["status"] if job else None,
            "hidden": hidden,
        }

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot_file(self, sha256: str) -> Path:
        return snapshot_path(self.services.jobs.data_dir, sha256)

    def snapshot_ref(self, sha256: str | None) -> dict[str, Any] | None:
        if not sha256:
            return None
        return {"sha256": sha256, "exists": self.snapshot_file(sha256).is_file()}

    def snapshot_hidden(self, sha256: str) -> bool:
        """Whether the snapshot is kept for other users' jobs or schedules only: it exists, but
        the acting user may not read it (``snapshot`` answers 404 to them)."""
        if self._snapshot_jobs(sha256) or self._snapshot_scheduled(sha256):
            return False
        with self.services.db.session() as session:
            for table in (Job, JobSchedule):
                stmt = select(table.id).where(table.snapshot_sha256 == sha256).limit(1)
                if session.scalar(stmt) is not None:
                    return True
        return False

    def snapshot(self, sha256: str) -> dict[str, Any]:
        """A notebook snapshot as its jobs ran it, and the jobs that ran it (newest first)."""
        check_sha256(sha256)
        path = self.snapshot_file(sha256)
        gone = NotFound(
            f"notebook snapshot {short(sha256)} was deleted: the jobs that ran it were deleted",
            field="sha256",
        )
        jobs = self._snapshot_jobs(sha256)
        # Only the users whose jobs or schedules ran it may read it; to another it is absent.
        if not jobs and not self._snapshot_scheduled(sha256):
            raise gone
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise gone from err
        except ValueError as err:
            raise NotFound(
                f"notebook snapshot {short(sha256)} is not readable JSON", field="sha256"
            ) from err
        return {
            "sha256": sha256,
            "notebook_path": jobs[0]["notebook_path"] if jobs else None,
            "jobs": jobs,
            "notebook": notebook,
        }

    def _snapshot_jobs(self, sha256: str) -> list[dict[str, Any]]:
        """The acting user's jobs (every job for an administrator) that ran the snapshot."""
        jobs = self.services.jobs
        stmt = select(Job).where(Job.snapshot_sha256 == sha256)
        stmt = jobs.visible(stmt, Job).order_by(Job.created_at.desc()).limit(50)
        with self.services.db.session() as session:
            return [
                {
                    "id": row.id,
                    "name": row.name,
                    "status": row.status,
                    "notebook_path": row.notebook_path,
                    "parameters": (row.spec or {}).get("parameters") or {},
                }
                for row in session.scalars(stmt)
            ]

    def _snapshot_scheduled(self, sha256: str) -> bool:
        """Whether one of the acting user's schedules runs the snapshot."""
        jobs = self.services.jobs
        stmt = jobs.visible(
            select(JobSchedule.id).where(JobSchedule.snapshot_sha256 == sha256), JobSchedule
        )
        with self.services.db.session() as session:
            return session.scalar(stmt.limit(1)) is not None
