"""A real Jupyter server stops and starts while a job runs: the job keeps running, finishes,
and the restarted server reports it SUCCEEDED. The CLI follows it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from server_process import ServerProcess

from labrig.cli import cli


@pytest.fixture
def server(root: Path, labrig_env: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(root, labrig_env)
    yield running
    if running.proc is not None and running.proc.poll() is None:
        running.stop()


def test_a_job_survives_a_server_restart_and_is_reported_succeeded(
    server: ServerProcess, notebook: Any, monkeypatch: pytest.MonkeyPatch
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
