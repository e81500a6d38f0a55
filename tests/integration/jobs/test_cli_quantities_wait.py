"""`labrig jobs` reads quantities as every other command does, and `submit --wait` exits with
the job's outcome (0 succeeded, 1 failed or cancelled), printing its final state and reason."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labrig.cli import cli


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


# --- quantities -------------------------------------------------------------------------------


@pytest.fixture
def in_root(root: Path, notebook: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    notebook("nb.ipynb", "1 + 1")
    monkeypatch.chdir(root)
    return root


def test_jobs_take_the_quantities_kernels_take(in_root: Path) -> None:
    result = run("jobs", "submit", "nb.ipynb", "--cpus", "500m", "--memory", "256Mi", "--json")
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert (job["spec"]["cpus"], job["spec"]["memory"]) == (0.5, 256 * 2**20)
    run("jobs", "cancel", job["id"])
    saved = run("resources", "request", "nb.ipynb", "--cpus", "500m", "--memory", "256Mi")
    assert saved.exit_code == 0, saved.output
    shown = json.loads(run("resources", "show", "nb.ipynb", "--json").stdout)["request"]
    assert (shown["cpus"], shown["memory"]) == (0.5, 256 * 2**20)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--memory", "4GB"),
        ("--memory", "4 Gi"),
        ("--memory", "0"),
        ("--memory", "-1Gi"),
        ("--cpus", "two"),
        ("--cpus", "0"),
        ("--cpus", "1e99"),
    ],
)
def test_a_bad_quantity_gets_the_same_message_everywhere(
    in_root: Path, option: str, value: str
) -> None:
    job = run("jobs", "submit", "nb.ipynb", option, value)
    kernel = run("resources", "request", "nb.ipynb", option, value)
    assert job.exit_code == kernel.exit_code == 1, (job.output, kernel.output)
    assert job.stderr == kernel.stderr
    field = option.removeprefix("--")
    assert job.stderr.startswith(f"labrig: error ({field}): {field}")
    assert "No jobs yet" in run("jobs", "ls").stdout


def test_a_job_larger_than_the_host_is_refused_in_readable_units(in_root: Path) -> None:
    result = run("jobs", "submit", "nb.ipynb", "--memory", "1Ei")
    assert result.exit_code == 1
    assert re.match(
        r"labrig: error \(memory\): memory 1024 PiB per process is more than this host's "
        r"capacity of [0-9.]+ [GMT]iB",
        result.stderr,
    ), result.stderr


# --- submit --wait ----------------------------------------------------------------------------


def test_wait_exits_zero_when_the_job_succeeds(in_root: Path, notebook: Any) -> None:
    notebook("ok.ipynb", "x = 1", "print('answer', x + 41)")
    result = run("jobs", "submit", "ok.ipynb", "--wait")
    assert result.exit_code == 0, result.output
    assert re.search(r"^job \w+ SUCCEEDED$", result.stdout, re.MULTILINE), result.output
    assert "output notebook: labrig-jobs/" in result.stdout
    assert "RUNNING" in result.stderr  # the states it went through, on stderr


def test_wait_exits_non_zero_with_the_reason_when_the_job_fails(
    in_root: Path, notebook: Any
) -> None:
    notebook("bad.ipynb", "x = 1", "raise ValueError(f'bad x={x}')")
    result = run("jobs", "submit", "bad.ipynb", "--wait", "--json")
    assert result.exit_code == 1, result.output
    final = json.loads(result.stdout)  # one JSON document: the ended job
    assert final["status"] == "FAILED"
    assert "raised ValueError: bad x=1 [rank 0]" in final["reason"]


def test_wait_and_cron_do_not_mix(in_root: Path) -> None:
    result = run("jobs", "submit", "nb.ipynb", "--cron", "0 3 * * *", "--wait")
    assert result.exit_code == 2
    assert "--wait waits for one job" in result.output


def test_wait_from_a_real_shell_gives_the_job_outcome_as_exit_code(
    in_root: Path, notebook: Any, labrig_env: Path
) -> None:
    notebook("fails.ipynb", "import os", "os.environ['NO_SUCH_VARIABLE']")
    labrig = Path(sys.executable).with_name("labrig")
    env = {**os.environ, "LABRIG_DATA_DIR": str(labrig_env)}
    done = subprocess.run(
        [str(labrig), "jobs", "submit", "fails.ipynb", "--wait"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=in_root,
        check=False,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    last = done.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"job \w+ FAILED: cell \d+ .*raised KeyError: .*NO_SUCH_VARIABLE.*", last)
    notebook("fine.ipynb", "print('fine')")
    done = subprocess.run(
        [str(labrig), "jobs", "submit", "fine.ipynb", "--wait"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=in_root,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
