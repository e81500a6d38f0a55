"""``labrig jobs``: submit with typed -p values, list, show, rerun, cancel, schedules, rm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labrig.cli import cli


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    return result


def test_cli_submits_lists_reruns_schedules_and_removes(
    root: Path, notebook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook("p.ipynb", "import time\ntime.sleep(120)", params="lr: float = 0.1\nsteps: int = 1")
    monkeypatch.chdir(root)
    result = run("jobs", "submit", "p.ipynb", "-p", "lr", "0.01", "-p", "steps", "3", "--json")
    assert result.exit_code == 0, result.output
    job = json.loads(result.output)
    assert job["spec"]["parameters"] == {"lr": 0.01, "steps": 3}
    bad = run("jobs", "submit", "p.ipynb", "-p", "steps", "many")
    assert bad.exit_code == 1
    assert "(parameters.steps)" in bad.output
    assert job["id"] in run("jobs", "ls").output
    assert "rank 0: cell" in run("jobs", "show", job["id"]).output
    cancelled = run("jobs", "cancel", job["id"])
    assert cancelled.exit_code == 0, cancelled.output
    assert "status: CANCELLED" in cancelled.output
    again = json.loads(run("jobs", "rerun", job["id"], "-p", "steps", "4", "--json").output)
    assert again["spec"]["parameters"] == {"lr": 0.01, "steps": 4}
    assert run("jobs", "cancel", again["id"]).exit_code == 0
    sched = run("jobs", "submit", "p.ipynb", "--cron", "0 3 * * *", "--json")
    assert sched.exit_code == 0, sched.output
    schedule_id = json.loads(sched.output)["id"]
    assert schedule_id in run("jobs", "schedules", "ls").output
    assert "paused: True" in run("jobs", "schedules", "pause", schedule_id).output
    assert run("jobs", "schedules", "rm", schedule_id).exit_code == 0
    assert run("jobs", "submit", "p.ipynb", "--cron", "99 * * * *").exit_code == 1
    assert run("jobs", "rm", job["id"], again["id"]).exit_code == 0
    assert "No jobs yet" in run("jobs", "ls").output
