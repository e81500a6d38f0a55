"""Jobs on real kernels: the distributed path, failures with their exact reason, cancel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from labrig.jobs.service import JobService

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


@pytest.mark.parametrize(("nodes", "procs"), [(1, 2), (2, 1)], ids=["1x2", "2nodes"])
def test_two_ranks_all_reduce_a_tensor_and_report_progress_logs_and_metrics(
    jobs: JobService, root: Path, notebook: Any, wait: Any, nodes: int, procs: int
) -> None:
    notebook(
        "ddp.ipynb",
        "import os, torch, torch.distributed as dist\n"
        "import labrig\n"
        "dist.init_process_group('gloo')\n"
        "rank, world = dist.get_rank(), dist.get_world_size()",
        "t = torch.tensor([float(rank + 1)])\n"
        "dist.all_reduce(t)\n"
        "assert t.item() == sum(range(1, world + 1)) * scale / scale, t\n"
        "labrig.log_metric('sum', t.item(), step=rank)\n"
        "print('reduced', t.item(), 'on rank', rank, 'of', os.environ['WORLD_SIZE'])",
        "dist.destroy_process_group()",
        params="scale: float = 1.0",
    )
    job = jobs.submit(
        {
            "notebook_path": "ddp.ipynb",
            "nodes": nodes,
            "procs_per_node": procs,
            "parameters": {"scale": 2.0},
        }
    )
    assert job["status"] in ("QUEUED", "STARTING")
    done = wait(jobs, job["id"], FINAL, timeout=120)
    assert done["status"] == "SUCCEEDED", (done, jobs.logs(job["id"], 0)["text"])
    assert done["starting_at"]
    assert done["started_at"]
    assert done["finished_at"]
    assert [r["cells_done"] for r in done["ranks"]] == [5, 5]  # 4 cells + injected parameters
    for rank in (0, 1):
        assert f"reduced 3.0 on rank {rank} of 2" in jobs.logs(job["id"], rank)["text"]
    metrics = jobs.metrics(job["id"])["metrics"]["sum"]
    assert sorted((p["rank"], p["value"]) for p in metrics) == [(0, 3.0), (1, 3.0)]
    assert (root / done["output_path"]).is_file()


def test_a_failing_cell_fails_the_job_with_the_cell_exception_and_rank(
    jobs: JobService, root: Path, notebook: Any, wait: Any
) -> None:
    notebook(
        "fail.ipynb",
        "x = 1",
        "import os\nif os.environ['RANK'] == '0':\n    raise ValueError(f'bad x={x}')",
        params="x = 1",
    )
    job = jobs.submit({"notebook_path": "fail.ipynb"})
    done = wait(jobs, job["id"], FINAL)
    assert done["status"] == "FAILED"
    assert done["reason"] == "cell 3 ('import os') raised ValueError: bad x=1 [rank 0]"


def test_cancel_stops_every_rank_and_kernel_with_no_orphans(
    local_jobs: JobService, notebook: Any, wait: Any
) -> None:
    jobs = local_jobs
    notebook("sleep.ipynb", "import time\ntime.sleep(300)")
    job = jobs.submit({"notebook_path": "sleep.ipynb", "procs_per_node": 2})
    wait(jobs, job["id"], ("RUNNING",), timeout=120)
    row = jobs._row(job["id"])
    supervisor = psutil.Process(row.handle["pid"])
    tree = [supervisor, *supervisor.children(recursive=True)]
    kernels = [p for p in tree if "ipykernel" in " ".join(p.cmdline())]
    assert len(kernels) == 2
    started = time.monotonic()
    assert jobs.cancel(job["id"])["status"] == "CANCELLED"
    assert time.monotonic() - started < 10
    _gone, alive = psutil.wait_procs(tree, timeout=5)
    assert alive == []
    assert jobs.get(job["id"])["reason"] == "cancelled"
