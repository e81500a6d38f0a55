"""Admission, schedules, reconciliation and the ways a notebook can end, on real kernels."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from labrig.errors import CapacityExceeded
from labrig.jobs.backend import LaunchRequest
from labrig.jobs.capacity import Gpu, HostCapacity
from labrig.jobs.lifecycle import VANISHED_AT_START
from labrig.jobs.local import NEVER_LAUNCHED, LocalJobBackend
from labrig.jobs.runtime import kill_tree, set_status
from labrig.jobs.service import JobService
from labrig.resources import enforce
from labrig.services import Services

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


class RecordingBackend(LocalJobBackend):
    """The local backend, except that launched jobs are recorded instead of spawned (admission
    and schedules are what these tests look at; the run tests start real processes)."""

    def launch(self, request: LaunchRequest) -> dict[str, Any]:
        self.launched = [*getattr(self, "launched", []), request.job_id]
        return {}


class RecordingLaunches(JobService):
    backend: RecordingBackend

    @property
    def launched(self) -> list[str]:
        return getattr(self.backend, "launched", [])


@pytest.fixture
def inventory(services: Services, root: Path, labrig_env: Path) -> RecordingLaunches:
    gpus = [Gpu("GPU-aaaa", "T4"), Gpu("GPU-bbbb", "T4"), Gpu("GPU-cccc", "A100")]
    capacity = HostCapacity(labrig_env / "cap", cpus=8, memory=2**34, gpus=gpus)
    return RecordingLaunches(
        services.db, labrig_env, root, capacity=capacity, backend=RecordingBackend()
    )


def test_admission_queues_by_priority_and_never_shares_a_gpu(
    inventory: RecordingLaunches, notebook: Any
) -> None:
    notebook("t.ipynb", "print(1)")
    big = inventory.submit(
        {"notebook_path": "t.ipynb", "procs_per_node": 2, "gpus": 1, "gpu_type": "T4"}
    )
    assert big["status"] == "STARTING"
    granted = inventory._row(big["id"]).gpus_granted
    assert sorted(granted["0"] + granted["1"]) == ["GPU-aaaa", "GPU-bbbb"]
    low = inventory.submit({"notebook_path": "t.ipynb", "gpus": 1, "gpu_type": "T4", "priority": 0})
    high = inventory.submit(
        {"notebook_path": "t.ipynb", "gpus": 1, "gpu_type": "T4", "priority": 5}
    )
    a100 = inventory.submit({"notebook_path": "t.ipynb", "gpus": 1, "gpu_type": "A100"})
    # The head of the queue (high) waits for a T4, so nothing behind it jumps ahead; each says
    # what it waits for and for whom.
    assert [inventory.get(j["id"])["status"] for j in (low, high, a100)] == ["QUEUED"] * 3
    assert inventory.get(high["id"])["reason"] == (
        f"waiting for 1 GPU: the host's 2 GPUs are held by job {big['id']} (ranks 0, 1)"
    )
    assert inventory.get(low["id"])["reason"] == (
        f"queued behind job {high['id']} (of higher priority), which is waiting for 1 GPU: "
        f"the host's 2 GPUs are held by job {big['id']} (ranks 0, 1)"
    )
    assert inventory.get(a100["id"])["reason"].startswith(
        f"queued behind job {high['id']} (of higher priority)"
    )
    with pytest.raises(CapacityExceeded, match=f"held by job:{big['id']}/rank0"):
        inventory.ledger.acquire("kernel:k1", None, None, 1, "T4")
    set_status(inventory.db, big["id"], "SUCCEEDED", only_from=("STARTING",))
    inventory.tick()  # releases the finished job's GPUs, then admits
    assert inventory.get(high["id"])["status"] == "STARTING"
    assert inventory.get(low["id"])["status"] == "STARTING"
    assert inventory.get(a100["id"])["status"] == "STARTING"
    assert inventory.launched == [big["id"], high["id"], low["id"], a100["id"]]
    held = inventory.capacity.holders()
    assert sorted(uuid for h in held.values() for uuid in h["gpus"]) == [
        "GPU-aaaa",
        "GPU-bbbb",
        "GPU-cccc",
    ]
    inventory.cancel(low["id"])
    assert f"job:{low['id']}/rank0" not in inventory.capacity.holders()


def test_a_schedule_fires_each_occurrence_once_with_an_injected_clock(
    inventory: RecordingLaunches, notebook: Any
) -> None:
    notebook("t.ipynb", "print(1)", params="x = 1")
    now = [datetime(2026, 1, 1, 0, 1, tzinfo=UTC)]
    inventory.clock = lambda: now[0]
    sched = inventory.create_schedule(
        {"cron": "*/5 * * * *", "job": {"notebook_path": "t.ipynb", "parameters": {"x": 2}}}
    )
    assert sched["next_run_at"] == "2026-01-01T00:05:00+00:00"
    now[0] = datetime(2026, 1, 1, 0, 4, 59, tzinfo=UTC)
    assert inventory.fire_schedules() == []
    now[0] = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    first = inventory.fire_schedules()
    assert len(first) == 1
    assert inventory.fire_schedules() == []
    assert inventory.get(first[0])["spec"]["parameters"] == {"x": 2}
    # The server was down from 00:06 to 00:17: the missed occurrences collapse into one run.
    now[0] = datetime(2026, 1, 1, 0, 17, tzinfo=UTC)
    second = inventory.fire_schedules()
    assert len(second) == 1
    runs = inventory.schedule_runs(sched["id"])
    assert [r["occurrence"][11:16] for r in runs] == ["00:05", "00:15"]
    # Another server (same database) that still believes 00:15 is due cannot start it again.
    other = RecordingLaunches(
        inventory.db, inventory.data_dir, inventory.root_dir, clock=lambda: now[0]
    )
    from labrig.store.tables import JobSchedule

    with inventory.db.session() as session:
        row = session.get(JobSchedule, sched["id"])
        assert row is not None
        row.last_occurrence = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert other.fire_schedules() == []
    assert len(inventory.schedule_runs(sched["id"])) == 2
    # Paused schedules do not fire; resuming skips what was missed; run-now always runs.
    inventory.set_paused(sched["id"], True)
    now[0] += timedelta(hours=1)
    assert inventory.fire_schedules() == []
    resumed = inventory.set_paused(sched["id"], False)
    assert resumed["next_run_at"] == "2026-01-01T01:20:00+00:00"
    assert inventory.fire_schedules() == []
    job = inventory.run_schedule_now(sched["id"])
    assert job["schedule_id"] == sched["id"]
    after = inventory.get_schedule(sched["id"])
    assert after["last_job_id"] == job["id"]  # the panel's "last run"
    assert after["next_run_at"] == "2026-01-01T01:20:00+00:00"  # cron position unchanged
    inventory.delete_schedule(sched["id"])
    assert inventory.list_schedules.__self__ is inventory


def test_a_clock_jump_neither_fires_an_occurrence_twice_nor_runs_the_missed_ones(
    inventory: RecordingLaunches, notebook: Any
) -> None:
    notebook("t.ipynb", "print(1)")
    now = [datetime(2026, 1, 1, 0, 1, tzinfo=UTC)]
    inventory.clock = lambda: now[0]
    sched = inventory.create_schedule({"cron": "*/5 * * * *", "job": {"notebook_path": "t.ipynb"}})
    now[0] = datetime(2026, 1, 1, 0, 5, 30, tzinfo=UTC)
    assert len(inventory.fire_schedules()) == 1
    # NTP steps the clock back an hour: 00:05 is due again by the wall clock, not by the record.
    now[0] -= timedelta(hours=1)
    assert inventory.fire_schedules() == []
    now[0] = datetime(2026, 1, 1, 0, 5, 59, tzinfo=UTC)
    assert inventory.fire_schedules() == []
    # ...and a jump a day forward runs the latest missed occurrence once (the catch-up rule).
    now[0] = datetime(2026, 1, 2, 0, 7, tzinfo=UTC)
    assert len(inventory.fire_schedules()) == 1
    assert inventory.fire_schedules() == []
    runs = inventory.schedule_runs(sched["id"])
    assert [r["occurrence"][:16] for r in runs] == ["2026-01-01T00:05", "2026-01-02T00:05"]
    assert len({r["job_id"] for r in runs}) == 2


ENDINGS = [
    (
        "raise",
        "1/0",
        r"^cell 1 \('1/0'\) raised ZeroDivisionError: division by zero \[rank 0\]$",
        "FAILED",
    ),
    (
        "exit0",
        "import sys\nsys.exit(0)",
        r"^$",
        "SUCCEEDED",
    ),
    (
        "exit1",
        "import sys\nsys.exit(1)",
        r"^cell 1 \('import sys'\) raised SystemExit: 1 \[rank 0\]$",
        "FAILED",
    ),
    ("os_exit", "import os\nos._exit(3)", r"^kernel died \(exit code 3\) \[rank 0\]$", "FAILED"),
    (
        "kill",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        r"^kernel died \(signal SIGKILL\) \[rank 0\]$",
        "FAILED",
    ),
    ("hang", "import time\ntime.sleep(600)", r"^timed out after 4 s$", "FAILED"),
    (
        "memory",
        "x = bytearray(600 * 2**20)\nimport time\ntime.sleep(60)",
        r"^stopped: memory limit \(300 MiB per process\) exceeded by rank 0$",
        "FAILED",
    ),
    ("loud", "print('x' * 4_000_000)\nprint('end')", None, "SUCCEEDED"),
]


@pytest.mark.parametrize(
    ("name", "source", "reason", "status"), ENDINGS, ids=[e[0] for e in ENDINGS]
)
def test_each_way_a_notebook_ends_gives_the_right_state_and_one_line_reason(
    jobs: JobService,
    notebook: Any,
    wait: Any,
    name: str,
    source: str,
    reason: str | None,
    status: str,
) -> None:
    notebook(f"{name}.ipynb", source)
    body: dict[str, Any] = {"notebook_path": f"{name}.ipynb"}
    if name == "hang":
        body["timeout"] = 4
    if name == "memory":
        body["memory"] = 300 * 2**20
    job = wait(jobs, jobs.submit(body)["id"], FINAL, timeout=120)
    assert job["status"] == status, job
    if reason is None:
        assert job["reason"] is None
        assert jobs.logs(job["id"], 0)["size"] > 4_000_000
    else:
        assert re.match(reason, job["reason"] or ""), job["reason"]
    assert "\n" not in (job["reason"] or "")
    mine = [
        p
        for p in psutil.process_iter(["cmdline"])
        if job["id"] in " ".join(p.info["cmdline"] or [])
    ]
    assert psutil.wait_procs(mine, timeout=10)[1] == []  # the supervisor exits right after


MEMORY_CGROUP_OF_KERNEL = """
import re
lines = open('/proc/self/cgroup').read().splitlines()
v1 = [l for l in lines if re.match(r'\\d+:memory:', l)]
if v1:
    group = '/sys/fs/cgroup/memory' + v1[0].split(':', 2)[2].strip()
    limit = open(group + '/memory.limit_in_bytes').read().strip()
else:  # cgroup v2: one group, memory.max
    group = '/sys/fs/cgroup' + next(l for l in lines if l.startswith('0::'))[3:].strip()
    limit = open(group + '/memory.max').read().strip()
print('GROUP', group)
print('LIMIT', limit)
"""


@pytest.mark.skipif(not enforce.detect().memory, reason="no memory cgroup labrig can create here")
def test_a_ranks_kernel_runs_in_a_memory_cgroup_with_the_jobs_limit(
    local_jobs: JobService, notebook: Any, wait: Any
) -> None:
    jobs = local_jobs
    notebook("limits.ipynb", MEMORY_CGROUP_OF_KERNEL)
    body = {"notebook_path": "limits.ipynb", "memory": 512 * 2**20}
    job = wait(jobs, jobs.submit(body)["id"], FINAL, timeout=120)
    assert job["status"] == "SUCCEEDED", job
    log = jobs.logs(job["id"], 0)["text"]
    group = re.search(r"GROUP (\S+)", log)
    assert group is not None, log
    assert group.group(1).endswith(f"/labrig/job-{job['id']}-rank0")
    assert f"LIMIT {512 * 2**20}" in log
    assert not Path(group.group(1)).exists()  # removed with the rank


def test_a_job_whose_processes_vanished_while_the_server_was_stopped_is_failed(
    local_jobs: JobService, services: Services, notebook: Any, wait: Any
) -> None:
    jobs = local_jobs
    notebook("sleep.ipynb", "import time\ntime.sleep(300)")
    job = jobs.submit({"notebook_path": "sleep.ipynb"})
    wait(jobs, job["id"], ("RUNNING",))
    row = jobs._row(job["id"])
    kill_tree(row.handle["pid"], row.handle["started"], jobs.layout(job["id"]))
    restarted = JobService(jobs.db, jobs.data_dir, jobs.root_dir, capacity=jobs.capacity)
    restarted.tick()
    after = restarted.get(job["id"])
    assert (after["status"], after["reason"]) == ("FAILED", VANISHED_AT_START)
    assert f"job:{job['id']}/rank0" not in jobs.capacity.holders()


def test_a_job_whose_launcher_stopped_before_starting_it_is_failed(
    inventory: RecordingLaunches, notebook: Any
) -> None:
    notebook("t.ipynb", "print(1)")
    job = inventory.submit({"notebook_path": "t.ipynb"})
    inventory.tick()
    assert inventory.get(job["id"])["status"] == "STARTING"  # launching, within the grace time
    from labrig.store.tables import Job

    with inventory.db.session() as session:
        row = session.get(Job, job["id"])
        assert row is not None
        row.starting_at = datetime.now(UTC) - timedelta(minutes=2)
    inventory.tick()
    after = inventory.get(job["id"])
    assert (after["status"], after["reason"]) == ("FAILED", NEVER_LAUNCHED)
