"""Jobs and schedules over REST: what ``labrig jobs`` calls on ``JobService``, with the same
shapes. The server's own tick follows, finalises and admits jobs, so the calls the CLI makes
to do that work when no server runs (``reconcile``, ``finalize``, ``admit``) do nothing here."""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path
from typing import Any

from ..store import Page, PageRequest
from .http import ApiClient, RefusesWhatRestLacks, api_path
from .models import page_of, page_params

#: Marks a notebook path standing where ``snapshot()`` gives a sha256 in-process: the server
#: snapshots the notebook itself when the job is submitted.
NOTEBOOK_KEY = "notebook:"


class RestJobs(RefusesWhatRestLacks):
    """``JobService``'s calls, made on the server."""

    reached_as = "labrig.connect().jobs"

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        #: Notebook paths are relative to the server's root (``LABRIG_ROOT_DIR`` in a kernel).
        self.root_dir = Path(os.environ.get("LABRIG_ROOT_DIR") or os.getcwd()).resolve()

    def list(self, page: PageRequest, status: str | None = None) -> Page[dict[str, Any]]:
        return page_of(self.api.get("jobs", status=status, **page_params(page)))

    def get(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.api.get(api_path("jobs", job_id))
        return job

    def logs(self, job_id: str, rank: int = 0, offset: int = 0) -> dict[str, Any]:
        chunk: dict[str, Any] = self.api.get(
            api_path("jobs", job_id, "logs"), rank=rank, offset=offset
        )
        return chunk

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        job: dict[str, Any] = self.api.post("jobs", body)
        return job

    def cancel(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.api.post(api_path("jobs", job_id, "cancel"))
        return job

    def rerun(self, job_id: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        job: dict[str, Any] = self.api.post(api_path("jobs", job_id, "rerun"), changes or {})
        return job

    def delete(self, job_id: str) -> None:
        self.api.delete(api_path("jobs", job_id))

    def job_form(self, path: str) -> dict[str, Any]:
        form: dict[str, Any] = self.api.get(api_path("job-form", path))
        return form

    # -- a notebook's parameters, for `-p NAME VALUE` ------------------------------------

    def resolve_notebook(self, path: str) -> str:
        return path  # the server resolves and checks it

    def snapshot(self, notebook: str) -> str:
        return NOTEBOOK_KEY + notebook

    def inspect(self, key: str) -> dict[str, dict[str, Any]]:
        """papermill's view of a notebook's (``notebook:PATH``) or a snapshot's (sha256)
        parameters: name -> {inferred_type_name, default, help}."""
        if key.startswith(NOTEBOOK_KEY):
            form = self.job_form(key.removeprefix(NOTEBOOK_KEY))
            return {
                p["name"]: {
                    "inferred_type_name": p["declared_type"] or "None",
                    "default": p["default"],
                    "help": p["help"],
                }
                for p in form["parameters"]
            }
        return _inspect_notebook(self.api.get(api_path("snapshots", key))["notebook"])

    # -- what the server's tick does ----------------------------------------------------

    def reconcile(self, first: bool = False) -> builtins.list[str]:
        return []

    def finalize(self) -> None:
        return None

    def admit(self) -> builtins.list[str]:
        return []

    # -- schedules ----------------------------------------------------------------------

    def list_schedules(self, page: PageRequest) -> Page[dict[str, Any]]:
        return page_of(self.api.get("job-schedules", **page_params(page)))

    def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get(api_path("job-schedules", schedule_id))
        return found

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.api.post("job-schedules", body)
        return created

    def set_paused(self, schedule_id: str, paused: bool) -> dict[str, Any]:
        action = "pause" if paused else "resume"
        found: dict[str, Any] = self.api.post(api_path("job-schedules", schedule_id, action))
        return found

    def run_schedule_now(self, schedule_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.api.post(api_path("job-schedules", schedule_id, "run"))
        return job

    def delete_schedule(self, schedule_id: str) -> None:
        self.api.delete(api_path("job-schedules", schedule_id))


def _inspect_notebook(notebook: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The parameters cell of a notebook the server sent, read by papermill here."""
    import nbformat
    from papermill.inspection import _infer_parameters

    from ..jobs.submission import notebook_language

    nb = nbformat.reads(json.dumps(notebook), as_version=4)  # joins sources kept as lines
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    params = _infer_parameters(nb, language=notebook_language(nb))
    return {p.name: p._asdict() for p in params}
