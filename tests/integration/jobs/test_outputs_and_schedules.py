"""On each backend: what a job registers (its declared outputs and ``labrig.models.register``
calls in the notebook) becomes model versions with the job's lineage, a finished job's logs
still open, and a cron schedule fires a job that runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from labrig.jobs.service import JobService
from labrig.k8s.client import POD
from labrig.services import Services
from labrig.store import PageRequest

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def test_outputs_and_register_calls_become_versions_with_the_jobs_lineage(
    jobs: JobService, services: Services, notebook: Any, wait: Any, backend: Any
) -> None:
    jobs.model_outputs = services.models
    notebook(
        "train.ipynb",
        "import labrig.models\n"
        "open('weights.bin', 'wb').write(b'w' * 1000)\n"
        "open('head.bin', 'wb').write(b'h' * 10)\n"
        "print(labrig.models.register('tiny-net', 'weights.bin', metrics={'acc': lr}))",
        params="lr = 0.1",
    )
    job = jobs.submit(
        {
            "notebook_path": "train.ipynb",
            "parameters": {"lr": 0.5},
            "outputs": [{"name": "tiny-head", "path": "head.bin"}],
        }
    )
    done = wait(jobs, job["id"], FINAL, timeout=120)
    assert done["status"] == "SUCCEEDED", (done, jobs.logs(job["id"], 0)["text"])
    jobs.tick()  # registered by the time the job is finalized
    called = services.models.get_ref("tiny-net")
    declared = services.models.get_ref("tiny-head")
    for version in (called, declared):
        lineage = version["lineage"]
        assert lineage["job_id"] == job["id"]
        assert lineage["snapshot_sha256"] == job["snapshot_sha256"]
        assert lineage["parameters"] == {"lr": 0.5}
    assert called["metrics"] == {"acc": 0.5}
    assert services.models.load_path("tiny-net/1").read_bytes() == b"w" * 1000
    assert services.models.load_path("tiny-head/1").read_bytes() == b"h" * 10
    jobs.tick()
    assert services.models.get_ref("tiny-net")["version"] == 1  # registered once


def test_a_schedule_fires_a_job_that_runs_to_the_end(
    jobs: JobService, notebook: Any, wait: Any
) -> None:
    notebook("nightly.ipynb", "print('nightly run', n)", params="n = 1")
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    jobs.clock = lambda: start
    schedule = jobs.create_schedule(
        {"cron": "*/5 * * * *", "job": {"notebook_path": "nightly.ipynb", "parameters": {"n": 7}}}
    )
    jobs.clock = lambda: start + timedelta(minutes=5, seconds=1)
    assert len(jobs.fire_schedules()) == 1
    fired = jobs.list(PageRequest(limit=10)).items
    assert [j["schedule_id"] for j in fired] == [schedule["id"]]
    done = wait(jobs, fired[0]["id"], FINAL, timeout=120)
    assert done["status"] == "SUCCEEDED", done
    assert "nightly run 7" in jobs.logs(done["id"], 0)["text"]


def test_a_finished_jobs_logs_and_output_still_open(
    jobs: JobService, root: Path, notebook: Any, wait: Any, backend: Any
) -> None:
    notebook("count.ipynb", "for i in range(200):\n    print('line', i)")
    job = jobs.submit({"notebook_path": "count.ipynb"})
    done = wait(jobs, job["id"], FINAL, timeout=120)
    assert done["status"] == "SUCCEEDED", done
    kube = getattr(backend, "kube", None)
    if kube is not None:  # pods are garbage-collected: the archive on shared storage serves
        for pod in kube.list(POD)["items"]:
            kube.call("DELETE", POD, pod["metadata"]["name"])
    text = jobs.logs(job["id"], 0)["text"]
    assert [line for line in text.splitlines() if line.startswith("line")] == [
        f"line {i}" for i in range(200)
    ]
    assert jobs.output_notebook(job["id"]) == root / done["output_path"]


def test_a_job_whose_output_notebook_fills_the_disk_fails_saying_so(
    local_jobs: JobService, root: Path, small_disk: Any, notebook: Any, wait: Any
) -> None:
    small_disk(root / "small")
    notebook("small/loud.ipynb", "print('x' * (12 * 2**20))")
    job = local_jobs.submit({"notebook_path": "small/loud.ipynb", "cpus": 0.5})
    done = wait(local_jobs, job["id"], ("SUCCEEDED", "FAILED"), timeout=180)
    assert done["status"] == "FAILED", done
    assert done["reason"] == (
        f"the disk holding the output notebook ({root / 'small' / 'labrig-jobs' / job['id']}) "
        "is full: free space there and rerun the job [rank 0]"
    )
