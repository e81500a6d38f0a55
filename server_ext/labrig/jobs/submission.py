"""Turning a notebook into a queued job: the notebook's path and content-addressed snapshot, its
typed ``parameters`` cell (the Run-as-job form), validation of a job body, and submit/rerun."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, LabrigError, NotFound
from ..paths import confine_relative
from ..store.tables import Dataset, Job, ResourceRequest
from .lifecycle import JobLifecycle
from .runtime import snapshot_path
from .spec import JobSpec, check_parameters, form_parameters, parse_spec


def notebook_language(nb: Any) -> str:
    """The notebook's language, as papermill needs it to read and inject parameters."""
    meta = nb.get("metadata", {})
    return str(
        meta.get("kernelspec", {}).get("language")
        or meta.get("language_info", {}).get("name")
        or "python"
    )


def inspectable(nb: Any) -> bool:
    """papermill reads the types and defaults of a parameters cell in Python only; other
    languages' values are injected as given."""
    return notebook_language(nb).lower() == "python"


def _form_notes(nb: Any, has_cell: bool, kernel: str | None) -> list[str]:
    notes = []
    if not has_cell:
        notes.append(
            "This notebook has no cell tagged 'parameters': values are injected at the top."
        )
    elif not inspectable(nb):
        notes.append(
            f"The parameters of a {notebook_language(nb)} notebook cannot be inspected: the "
            "values you add are injected as given, after its parameters cell."
        )
    if not kernel:
        notes.append("It names no kernel: it runs on python3.")
    return notes


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class JobSubmission(JobLifecycle):
    def resolve_notebook(self, path: str) -> Path:
        full = confine_relative(path, self.root_dir, field="notebook_path")
        if not full.is_file():
            raise NotFound(f"there is no notebook at {path!r}", field="notebook_path")
        if full.suffix != ".ipynb":
            raise InvalidInput(f"{path!r} is not a notebook (.ipynb)", field="notebook_path")
        return full

    def snapshot(self, full: Path) -> str:
        """Store the notebook's bytes under their sha256 and return it."""
        import nbformat  # here, not at import: reading jobs (`labrig jobs ls`) never needs it

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
            import nbformat
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
            self._kernels = self.backend.kernels()
        if wanted is None:
            nb = json.loads(snapshot_path(self.data_dir, sha).read_text())
            # papermill refuses a notebook that names no kernel; labrig runs it on python3.
            wanted = nb.get("metadata", {}).get("kernelspec", {}).get("name") or "python3"
        if wanted == "python":
            wanted = "python3"  # as jupyter_client's KernelManager (and so papermill) reads it
        if self._kernels is not None and wanted not in self._kernels:
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
        kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name")
        return {
            "notebook_path": path,
            "has_parameters_cell": has_cell,
            "note": " ".join(_form_notes(nb, has_cell, kernel)) or None,
            "kernel_name": kernel,
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
            return {"cpus": 1.0, "memory": None, "gpus": 0, "gpu_type": None, "profile": None}
        return {
            "cpus": saved.cpus or 1.0,
            "memory": saved.memory,
            "gpus": saved.gpus or 0,
            "gpu_type": saved.gpu_type,
            "profile": saved.profile,
        }

    def _validate(self, body: dict[str, Any], sha: str | None = None) -> tuple[JobSpec, str, str]:
        spec = parse_spec(body, self.backend.host_limits(self.host))
        if sha is None:
            sha = self.snapshot(self.resolve_notebook(spec.notebook_path))
            try:
                return self._validate_with(spec, sha)
            except LabrigError:
                self._drop_snapshot(sha)  # a refused submission leaves nothing behind
                raise
        return self._validate_with(spec, sha)

    def _drop_snapshot(self, sha: str) -> None:
        if not self.snapshot_in_use(sha):
            snapshot_path(self.data_dir, sha).unlink(missing_ok=True)
            self._inspected.pop(sha, None)

    def _validate_with(self, spec: JobSpec, sha: str) -> tuple[JobSpec, str, str]:
        nb = json.loads(snapshot_path(self.data_dir, sha).read_text())
        if inspectable(nb):
            check_parameters(spec.parameters, self.inspect(sha), spec.strict)
        self._check_outputs(spec)
        kernel = self._kernel_of(sha, spec.kernel_name)
        if spec.datasets:
            self._check_datasets(spec.datasets)
        self.backend.check(spec.json())
        return spec, sha, kernel

    def _check_outputs(self, spec: JobSpec) -> None:
        """Declared outputs are read from the notebook's folder when the job ends: each must
        stay under the server root, also through symlinks (checked again at registration)."""
        folder = (self.root_dir / spec.notebook_path).parent
        for index, output in enumerate(spec.outputs):
            field = f"outputs[{index}].path"
            confine_relative(output["path"], self.root_dir, field=field, base=folder)

    def _check_datasets(self, names: list[str]) -> None:
        # Admin-defined datasets (DatasetCache.datasets) are rows once the catalog synced them.
        sync = getattr(self.dataset_mounts, "sync_admin", None)
        if sync is not None:
            sync()
        principal = self.acting()
        with self.db.session() as session:
            rows = session.execute(
                select(Dataset.name, Dataset.private, Dataset.owner).where(Dataset.name.in_(names))
            )
            # Another user's private dataset is one this user cannot name: as if it did not exist.
            known = {name for name, private, owner in rows if not private or principal.owns(owner)}
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
        owner: str | None,
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
            owner=owner,
            created_at=self.clock(),
            gpus_granted={},
            backend=self.backend.identity,
            handle={},
            dataset_versions={},
        )
        session.add(row)
        return row

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate, snapshot and queue a job; starts it at once when it fits. Returns at once."""
        spec, sha, kernel = self._validate(body)
        for check in self.notebook_checks:
            check(spec.notebook_path)
        with self.db.session() as session:
            row = self._new_job(session, spec, sha, kernel, owner=self.owner_now())
            job_id = row.id
        self.admit()
        return self.get(job_id)

    def rerun(self, job_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        """The same snapshot again, with the same or edited parameters and settings, owned by
        whoever re-ran it (one's own job, or any job for an administrator)."""
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
            row = self._new_job(session, spec, sha, kernel, owner=self.owner_now(), rerun_of=job_id)
            new = row.id
        self.admit()
        return self.get(new)
