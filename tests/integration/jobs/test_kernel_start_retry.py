"""A rank's kernel that dies before it answers (as when another process took one of its ports
between jupyter_client picking it and the kernel binding it) is started again: the job runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from labrig.jobs.service import JobService

FLAKY_KERNEL = """\
import os, sys
marker = sys.argv[1]
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit("Address already in use (a port was taken)")  # dies before kernel_info
from ipykernel import kernelapp
kernelapp.launch_new_instance(argv=sys.argv[2:])
"""


@pytest.fixture
def flaky_kernelspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    share = tmp_path / "share"
    spec = share / "kernels" / "flaky"
    spec.mkdir(parents=True)
    script = tmp_path / "flaky_kernel.py"
    script.write_text(FLAKY_KERNEL)
    marker = tmp_path / "died-once"
    argv = [sys.executable, str(script), str(marker), "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "flaky", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(share))
    return marker


def test_a_kernel_that_dies_before_answering_is_started_again(
    local_jobs: JobService, notebook: Any, wait: Any, flaky_kernelspec: Path
) -> None:
    notebook("hello.ipynb", "print('hello from the second kernel')")
    job = local_jobs.submit({"notebook_path": "hello.ipynb", "kernel_name": "flaky"})
    done = wait(local_jobs, job["id"], ("SUCCEEDED", "FAILED"), timeout=180)
    assert done["status"] == "SUCCEEDED", done
    assert flaky_kernelspec.exists()  # the first start did die
    log = local_jobs.logs(job["id"], 0, 0)["text"]
    assert "kernel died before it answered; starting it again" in log
    assert "hello from the second kernel" in log
