"""The local job backend: ranks are processes on this host, detached from the Jupyter server.

One supervisor per job (``labrig.jobs.supervisor``, started in its own session so a server
restart neither kills nor forgets it) launches torchrun agents whose workers execute the
snapshot with papermill. The supervisor writes the job's transitions to the state database
itself and, once the job ends, releases what it held and admits the next queued job, so jobs
move on with no server running. Ranks report through files in the job's folder
(``<data_dir>/jobs/<id>/``, see ``runtime.JobLayout``).

Ranks never get the database URL: they reach the server's REST API with a token scoped to their
job (``$LABRIG_SERVER_URL``, ``$LABRIG_API_TOKEN``), and what they register with
``labrig.models.register`` is staged in the job's folder and registered under the job's owner
when the job ends, as for ranks on a cluster.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from traitlets import Float, Unicode, default

from labrig.dataset_mounts.mount_dirs import remove_tree

from ..processes import process_alive, process_started
from ..server_url import for_job_ranks
from .backend import JobBackend, JobRef, LaunchRequest, LogChunk, Observation, RankReport, Staged
from .env_names import API_TOKEN_ENV, SERVER_URL_ENV, STORE_ENV
from .runtime import JobLayout, json_points, kill_tree, last_json_line, read_chunk
from .secret_settings import DATABASE_URL_ENV, secrets_env, split_secrets
from .transport import JobFolder

VANISHED = "processes vanished (killed outside labrig?)"
NEVER_LAUNCHED = "its processes were never started (the launching process stopped)"


@functools.cache
def torch_installed() -> bool:
    """Whether torchrun can launch ranks; looked for once (each look searches every
    ``sys.path`` entry), since the status the panel polls reports it."""
    return importlib.util.find_spec("torch") is not None


class LocalJobBackend(JobBackend):
    """Ranks as local processes detached from the Jupyter server."""

    kind = "local"
    ranks_use_api_token = True

    launch_grace = Float(
        60.0,
        config=True,
        help="""Seconds a job may stay STARTING without a supervisor process before it is
        failed (the process that was launching it stopped first).""",
    )

    host_id = Unicode(
        config=True,
        help="""The name of this host among the servers that share one database: this server
        reconciles, admits and stops only jobs launched under it (``local:<host_id>``), and
        leaves a cancel of another host's job to that host's supervisor. Default: the
        hostname. Set it when the hostname does not tell hosts apart (containers that share
        one), or to let two servers on one machine stand for two hosts.""",
    )

    @default("host_id")
    def _default_host_id(self) -> str:
        return socket.gethostname()

    @property
    def identity(self) -> str:
        return f"local:{self.host_id}"

    def capabilities(self) -> dict[str, str]:
        torch = torch_installed()
        return {
            "jobs.launcher": "torchrun" if torch else "papermill (install torch for torchrun)",
        }

    def kernels(self) -> set[str] | None:
        from jupyter_client.kernelspec import KernelSpecManager

        return set(KernelSpecManager().find_kernel_specs())

    def layout(self, job_id: str) -> JobLayout:
        return JobLayout.of(self.data_dir, job_id)

    def launch(self, request: LaunchRequest) -> dict[str, Any]:
        """Describe the job in its ``job.json`` and start its detached supervisor."""
        layout = self.layout(request.job_id)
        layout.root.mkdir(parents=True, exist_ok=True)
        settings, secrets = (
            (None, []) if request.settings is None else split_secrets(request.settings)
        )
        layout.job_file.write_text(json.dumps(self._job_file(request, settings), indent=1))
        # What must not be on disk reaches the supervisor through its environment only (a
        # supervisor launching the next job passes on none of its own job's).
        env = {k: v for k, v in os.environ.items() if k not in (API_TOKEN_ENV, SERVER_URL_ENV)}
        env.update({DATABASE_URL_ENV: self.database_url, **secrets_env(secrets)})
        with layout.supervisor_log.open("ab") as log:
            env.update(self._server_access(request, log))
            proc = subprocess.Popen(
                [sys.executable, "-m", "labrig.jobs.supervisor", str(layout.root)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(layout.root),
                env=env,
                start_new_session=True,
            )
        self._children = [p for p in getattr(self, "_children", []) if p.poll() is None] + [proc]
        started = process_started(proc.pid)
        return {"host": self.host_id, "pid": proc.pid, "started": started}

    def _server_access(self, request: LaunchRequest, log: IO[bytes]) -> dict[str, str]:
        """How the ranks reach the server's API: its URL and the job's token (the supervisor
        keeps the database URL to itself)."""
        access = {API_TOKEN_ENV: request.api_token} if request.api_token else {}
        url = for_job_ranks(self.parent)
        if url is None:
            log.write(
                b"labrig: this process does not know the Jupyter server's URL (set "
                b"LabrigApp.kernel_server_url): the ranks cannot reach labrig's API\n"
            )
            return access
        return {**access, SERVER_URL_ENV: url}

    def _job_file(self, request: LaunchRequest, settings: dict[str, Any] | None) -> dict[str, Any]:
        """Everything the detached processes need, so they never ask the server, and no secret:
        ``settings`` without their secret values, and no database URL (it may hold a password;
        the supervisor and the ranks get it through their environment)."""
        spec = request.spec
        notebook_dir = request.notebook_dir
        cwd = notebook_dir if notebook_dir.is_dir() else self.layout(request.job_id).root
        return {
            "job_id": request.job_id,
            # The launching server's settings, so the supervisor admits the next jobs as it would
            # (None: the service was not built from settings, and only it moves the queue on).
            "config": settings,
            "data_dir": str(self.data_dir),
            "root_dir": str(self.root_dir),
            "snapshot": str(request.snapshot),
            "parameters": spec.get("parameters", {}),
            "kernel_name": spec.get("kernel_name"),
            "nodes": int(spec["nodes"]),
            "procs_per_node": int(spec["procs_per_node"]),
            "timeout": spec.get("timeout"),
            "memory": spec.get("memory"),
            # Local ranks never open the database: they reach the server's API with their job's
            # token (from the supervisor's environment), and ``labrig.models.register`` stages
            # into the job's folder, registered when the job ends, as on a cluster.
            "env": {
                **request.env,
                STORE_ENV: str(self.layout(request.job_id).root),
                "LABRIG_DATA_DIR": str(self.data_dir),
                # ... and may register files from anywhere under the server root, as kernels.
                "LABRIG_ROOT_DIR": str(self.root_dir),
            },
            "gpus": request.gpus,
            "cwd": str(cwd),
            "output_notebook": str(request.output_notebook),
        }

    def cancel(self, job: JobRef) -> None:
        if job.handle.get("host") not in (None, self.host_id):
            return  # that host's supervisor sees the CANCELLED state and stops its ranks
        kill_tree(job.handle.get("pid"), job.handle.get("started"), self.layout(job.id))
        self._children = [p for p in getattr(self, "_children", []) if p.poll() is None]

    def observe_jobs(self, jobs: list[JobRef]) -> dict[str, Observation]:
        """Supervisors write their jobs' transitions; only a vanished one needs telling."""
        seen: dict[str, Observation] = {}
        for job in jobs:
            if not job.handle:
                if job.age > self.launch_grace:
                    seen[job.id] = Observation("FAILED", NEVER_LAUNCHED)
                continue
            if not process_alive(job.handle.get("pid"), job.handle.get("started")):
                kill_tree(None, None, self.layout(job.id))
                seen[job.id] = Observation("FAILED", VANISHED)
        return seen

    def logs(self, job: JobRef, rank: int, offset: int, limit: int) -> LogChunk:
        path = self.layout(job.id).log(rank)
        data, next_offset = read_chunk(path, offset, limit)
        size = path.stat().st_size if path.exists() else 0
        return LogChunk(data, next_offset, size)

    def progress(self, job: JobRef) -> list[RankReport]:
        layout = self.layout(job.id)
        return [
            RankReport(rank, last_json_line(layout.progress(rank)) or {})
            for rank in range(job.world_size)
        ]

    def metrics(self, job: JobRef, rank: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        data, next_offset = read_chunk(self.layout(job.id).metrics(rank), offset, 1 << 30)
        return json_points(data), next_offset

    def fetch_output(self, job: JobRef, dest: Path) -> bool:
        return dest.is_file()  # rank 0 writes it there itself

    def staged_outputs(self, job: JobRef, into: Path) -> list[Staged]:
        """The declared outputs, on this host's disk beside the notebook, and the
        ``labrig.models.register`` calls the ranks staged in the job's folder."""
        staged = JobFolder.open(str(self.layout(job.id).root)).staged(into)
        return staged + [
            Staged(
                output["name"],
                job.notebook_dir / output["path"],  # resolved (and confined) when registered
                0,
                key=str((job.notebook_dir / output["path"]).resolve()),
                declared=True,
            )
            for output in job.spec.get("outputs") or []
        ]

    def forget(self, job: JobRef) -> None:
        # Its dataset mounts may be read-only bind mounts, which remove_tree detaches first.
        remove_tree(self.layout(job.id).root)
