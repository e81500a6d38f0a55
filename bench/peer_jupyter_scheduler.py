"""jupyter-scheduler as a peer in the jobs benchmark: submit -> COMPLETED for one notebook.

jupyter-scheduler is not a labrig dependency (it pins its own Jupyter stack), so it runs from
its own virtual environment:

    python3.11 -m venv /tmp/js-venv && /tmp/js-venv/bin/pip install jupyter-scheduler

and the benchmark starts ``jupyter server`` from there on a loopback port, with the notebook's
folder as its root, and drives it through its REST API as its JupyterLab panel does.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labrig.jobs.supervisor import free_port


class SchedulerServer:
    def __init__(self, port: int, token: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def run(self, notebook: str) -> float:
        """Seconds from the create request to the job reported COMPLETED."""
        start = time.perf_counter()
        created = self.call(
            "POST",
            "/scheduler/jobs",
            {
                "input_uri": notebook,
                "runtime_environment_name": "python3",
                "output_formats": ["ipynb"],
                "name": f"bench-{secrets.token_hex(3)}",
            },
        )
        job = f"/scheduler/jobs/{created['job_id']}"
        deadline = time.monotonic() + 600
        # A new job reads STOPPED until its process starts (the column's default), so only
        # COMPLETED and FAILED are final here.
        while (status := self.call("GET", job)["status"]) not in ("COMPLETED", "FAILED"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter-scheduler's job is still {status} after 600 s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        if status != "COMPLETED":
            raise RuntimeError("jupyter-scheduler ended the job FAILED")
        return elapsed


@contextmanager
def scheduler_server(python: str, root: Path) -> Iterator[SchedulerServer]:
    port, token = free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [
            python,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = SchedulerServer(port, token)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                server.call("GET", "/scheduler/runtime_environments")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("jupyter-scheduler's server did not start") from None
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=30)
