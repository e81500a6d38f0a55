"""Jobs move on with no Jupyter server running: a local job's supervisor releases what its job
held and admits the next one, and a cancel recorded anywhere reaches the ranks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil

from labrig.app import LabrigApp
from labrig.jobs.runtime import set_status
from labrig.services import build_services


def _until(check: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return value


def test_the_next_job_starts_when_the_first_ends_with_no_server_ticking(
    labrig_env: Path, root: Path, notebook: Any
) -> None:
    notebook("slow.ipynb", "import time\ntime.sleep(2)\nprint('done')")
    # Built as the CLI builds them: the supervisor can act with the same settings.
    services = build_services(LabrigApp(data_dir=str(labrig_env)), root_dir=str(root))
    jobs = services.jobs
    try:
        cpus = jobs.host.cpus
        first = jobs.submit({"notebook_path": "slow.ipynb", "cpus": cpus})
        second = jobs.submit({"notebook_path": "slow.ipynb", "cpus": cpus})
        assert first["status"] == "STARTING"
        queued = jobs.get(second["id"])
        assert queued["status"] == "QUEUED"
        count = f"{cpus:g} CPU{'s' if cpus != 1 else ''}"
        assert queued["reason"] == (
            f"waiting for {count}: the host's {count} "
            f"{'is' if cpus == 1 else 'are'} held by job {first['id']} (rank 0)"
        )
        # Nobody calls tick(): the first job's supervisor hands over when it ends.
        _until(lambda: jobs.get(second["id"])["status"] == "SUCCEEDED")
        assert jobs.get(first["id"])["status"] == "SUCCEEDED"
        assert not any(h.startswith(f"job:{first['id']}") for h in jobs.capacity.holders())
        _until(lambda: not any(h.startswith("job:") for h in jobs.capacity.holders()), 30)
    finally:
        services.close()


def test_a_cancel_recorded_by_another_server_stops_the_ranks(
    labrig_env: Path, root: Path, notebook: Any
) -> None:
    notebook("sleep.ipynb", "import time\ntime.sleep(300)")
    services = build_services(LabrigApp(data_dir=str(labrig_env)), root_dir=str(root))
    jobs = services.jobs
    try:
        job = jobs.submit({"notebook_path": "sleep.ipynb"})
        _until(lambda: jobs.get(job["id"])["status"] == "RUNNING")
        supervisor = psutil.Process(jobs._row(job["id"]).handle["pid"])
        tree = [supervisor, *supervisor.children(recursive=True)]
        # What a server on another host can do: change the record, not kill the processes.
        assert set_status(
            jobs.db, job["id"], "CANCELLED", only_from=("RUNNING",), reason="cancelled"
        )
        _gone, alive = psutil.wait_procs(tree, timeout=15)
        assert alive == []
        assert jobs.get(job["id"])["status"] == "CANCELLED"
        _until(lambda: jobs._row(job["id"]).finalized, 30)
    finally:
        services.close()
