"""A labrig job on a real cluster, end to end: submitted, run by the training operator in the
configured image, followed to SUCCEEDED, its log read back, then deleted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

from labrig.jobs.service import JobService
from labrig.k8s.jobs import KubernetesJobBackend
from labrig.services import Services

pytestmark = pytest.mark.cluster


def test_a_notebook_runs_as_a_pytorchjob_on_the_cluster(
    services: Services, tmp_path: Path, labrig_env: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("print('hello from', __import__('socket').gethostname())")
    ]
    nbformat.write(nb, root / "hello.ipynb")
    backend = KubernetesJobBackend(
        kubeconfig=os.environ["LABRIG_TEST_KUBECONFIG"],
        namespace=os.environ["LABRIG_TEST_NAMESPACE"],
        image=os.environ["LABRIG_TEST_IMAGE"],
        storage_url=os.environ["LABRIG_TEST_STORAGE_URL"],
        queue_name=os.environ.get("LABRIG_TEST_QUEUE", ""),
    )
    jobs = JobService(services.db, labrig_env, root, backend=backend)
    job = jobs.submit({"notebook_path": "hello.ipynb"})
    deadline = time.monotonic() + 900
    while (state := jobs.get(job["id"]))["status"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        assert time.monotonic() < deadline, state
        jobs.tick()
        time.sleep(2)
    assert state["status"] == "SUCCEEDED", state["reason"]
    assert "hello from" in jobs.logs(job["id"], 0)["text"]
    jobs.delete(job["id"])
