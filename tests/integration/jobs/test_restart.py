"""A real Jupyter server stops and starts while a job runs: the job keeps running, finishes,
and the restarted server reports it SUCCEEDED. The CLI follows it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labrig.cli import cli
from labrig.jobs.supervisor import free_port

TOKEN = "labrig-restart-test"


class Server:
    def __init__(self, root: Path, data_dir: Path) -> None:
        self.root, self.data_dir = root, data_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "LABRIG_DATA_DIR": str(self.data_dir)}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={self.root}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.call("status")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def call(self, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/labrig/api/v1/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Authorization": f"token {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture
def server(root: Path, labrig_env: Path) -> Iterator[Server]:
    running = Server(root, labrig_env)
    yield running
    if running.proc is not None and running.proc.poll() is None:
        running.stop()


def test_a_job_survives_a_server_restart_and_is_reported_succeeded(
    server: Server, notebook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook(
        "slow.ipynb",
        "import time\nfor i in range(6):\n    print('tick', i, flush=True)\n    time.sleep(1)",
    )
    server.start()
    job = server.call("jobs", {"notebook_path": "slow.ipynb", "name": "survivor"})
    while server.call(f"jobs/{job['id']}")["status"] != "RUNNING":
        time.sleep(0.2)
    server.stop()
    server.start()
    deadline = time.monotonic() + 60
    while (state := server.call(f"jobs/{job['id']}"))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state["status"] == "SUCCEEDED", state
    # The CLI sees the same truth and prints the whole log.
    monkeypatch.chdir(server.root)
    result = CliRunner().invoke(cli, ["jobs", "logs", "-f", job["id"]])
    assert result.exit_code == 0, result.output
    assert "tick 5" in result.output
    assert f"[job {job['id']} SUCCEEDED]" in result.output
