"""Jobs benchmark: labrig jobs against papermill and torchrun measured in the same run.

    .venv/bin/python bench/bench_jobs.py [--repeat 3]

1. a 3-cell notebook: submit -> SUCCEEDED vs `papermill in.ipynb out.ipynb`, and vs
   jupyter-scheduler's submit -> COMPLETED when ``--jupyter-scheduler-python`` names a Python
   with jupyter-scheduler installed (see peer_jupyter_scheduler.py);
2. a 200-trivial-cell notebook: the same, vs papermill with its defaults and with per-cell
   saving off (labrig still reports per-cell progress and saves the output at most 2 s stale);
3. 2-rank CPU DDP (gloo): training steps/s inside a 2-process job vs the same code as a script
   under `torchrun --nproc-per-node 2`;
4. the jobs list: server time for a page of 50 out of 10,000 jobs (first and a deep page).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
from peer_jupyter_scheduler import SchedulerServer, scheduler_server

from labrig.jobs.capacity import HostCapacity
from labrig.jobs.service import JobService
from labrig.store import Database, PageRequest
from labrig.store.tables import Job

PY = sys.executable
DDP_STEPS = 2000  # about 4 s of training per measurement on this machine
DDP_CODE = f"""
import os, time, torch, torch.distributed as dist
from torch import nn
dist.init_process_group("gloo")
torch.manual_seed(0)
torch.set_num_threads(1)
net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
model = nn.parallel.DistributedDataParallel(net)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(64, 64), torch.randint(0, 10, (64,))
for _ in range(20):
    opt.zero_grad(); nn.functional.cross_entropy(model(x), y).backward(); opt.step()
start = time.perf_counter()
for _ in range({DDP_STEPS}):
    opt.zero_grad(); nn.functional.cross_entropy(model(x), y).backward(); opt.step()
rate = {DDP_STEPS} / (time.perf_counter() - start)
if dist.get_rank() == 0:
    print("STEPS_PER_S", rate, flush=True)
dist.destroy_process_group()
"""


def notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def run_job(
    jobs: JobService, body: dict[str, object], poll: float = 0.02
) -> tuple[float, dict[str, object]]:
    """Submit and wait. Short notebooks need a fine ``poll`` for their wall time; a job that
    times itself (DDP) gets a coarse one, so this process does not steal its CPU."""
    jobs.tick()  # as the server does every second: releases the last job's resources
    start = time.perf_counter()
    job = jobs.submit(body)
    while True:
        state = jobs._row(str(job["id"])).status
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(poll)
    elapsed = time.perf_counter() - start
    done = jobs.get(str(job["id"]))
    assert done["status"] == "SUCCEEDED", done
    return elapsed, done


def notebook_rows(
    jobs: JobService, root: Path, repeat: int, scheduler: SchedulerServer | None
) -> list[tuple[str, str, float, float]]:
    """Each case's runners take turns, first place rotating, so load drift hits all alike."""
    small = notebook(root / "small.ipynb", ["x = 1", "y = x + 1", "print(y)"])
    big = notebook(root / "big.ipynb", [f"v{i} = {i}" for i in range(200)])

    def papermill(path: Path, *extra: str) -> Callable[[], float]:
        cmd = [PY, "-m", "papermill", "--no-progress-bar", *extra, path.name, "o.ipynb"]
        return lambda: timed(cmd, root)

    small_peers = {"papermill (defaults)": papermill(small)}
    if scheduler is not None:
        scheduler.run(small.name)  # its first job also creates the scheduler's database
        small_peers["jupyter-scheduler"] = lambda: scheduler.run(small.name)
    cases = {
        "3-cell notebook": (small, small_peers),
        "200-cell notebook": (
            big,
            {
                "papermill (defaults)": papermill(big),
                "papermill (per-cell save off)": papermill(
                    big, "--no-request-save-on-cell-execute"
                ),
            },
        ),
    }
    rows = []
    for case, (path, peers) in cases.items():
        runners = {"labrig": lambda path=path: run_job(jobs, {"notebook_path": path.name})[0]}
        runners.update(peers)
        times: dict[str, list[float]] = {name: [] for name in runners}
        names = list(runners)
        for i in range(repeat):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                times[name].append(runners[name]())
        for peer in peers:
            rows.append(
                (case, f"labrig job vs {peer}", median(times["labrig"]), median(times[peer]))
            )
            print(rows[-1], flush=True)
    return rows


def ddp_job_rate(jobs: JobService, notebook_path: Path) -> float:
    body = {"notebook_path": notebook_path.name, "procs_per_node": 2}
    _, done = run_job(jobs, body, poll=0.5)
    log = jobs.logs(str(done["id"]), 0)["text"]
    return float(log.split("STEPS_PER_S")[1].split()[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TORCHRUN_2 = [PY, "-m", "torch.distributed.run", "--nproc-per-node", "2"]


def ddp_script_rate(script: Path) -> float:
    # A port of its own, as the job's ranks get: torchrun's default 29500 may be taken. A port
    # found free can still be taken before torchrun binds it: then once more, on another.
    for attempt in range(2):
        done = subprocess.run(
            [*TORCHRUN_2, "--master-port", str(free_port()), str(script)],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        if done.returncode == 0:
            return float(done.stdout.split("STEPS_PER_S")[1].split()[0])
        print(f"torchrun failed (attempt {attempt + 1}):", done.stderr[-800:], flush=True)
    raise RuntimeError("the torchrun peer failed twice")


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--parts", default="notebooks,ddp,list", help="comma-separated: notebooks, ddp, list"
    )
    parser.add_argument(
        "--jupyter-scheduler-python",
        default=None,
        help="a Python with jupyter-scheduler installed (its own venv): adds it as a peer",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    work = Path(tempfile.mkdtemp(prefix="labrig-bench-"))
    root = work / "root"
    root.mkdir()
    db = Database(f"sqlite:///{work / 'labrig.db'}")
    db.upgrade()
    jobs = JobService(db, work / "data", root, capacity=HostCapacity(work / "cap"))
    rows = []

    with contextlib.ExitStack() as stack:
        scheduler = None
        if args.jupyter_scheduler_python and "notebooks" in parts:
            scheduler = stack.enter_context(scheduler_server(args.jupyter_scheduler_python, root))
        if "notebooks" in parts:
            rows += notebook_rows(jobs, root, args.repeat, scheduler)

    script = work / "ddp.py"
    script.write_text(DDP_CODE)
    ddp_nb = notebook(root / "ddp.ipynb", [DDP_CODE])
    job_rates, script_rates = [], []
    for i in range(args.repeat if "ddp" in parts else 0):
        # Alternate which side runs first, so drift in the machine's load hits both alike.
        for side in ("job", "script") if i % 2 == 0 else ("script", "job"):
            if side == "job":
                job_rates.append(ddp_job_rate(jobs, ddp_nb))
            else:
                script_rates.append(ddp_script_rate(script))
        print("ddp", job_rates[-1], script_rates[-1], flush=True)

    first, deep = list_timings(jobs) if "list" in parts else ([], [])

    print(f"labrig jobs benchmark ({os.cpu_count()} CPUs, median of {args.repeat})")
    print(f"{'case':<20} {'comparison':<44} {'labrig':>9} {'peer':>9} {'ratio':>7}")
    for name, what, ours_s, theirs_s in rows:
        print(f"{name:<20} {what:<44} {ours_s:>8.2f}s {theirs_s:>8.2f}s {ours_s / theirs_s:>6.2f}x")
    if job_rates:
        job_rate, script_rate = median(job_rates), median(script_rates)
        pairs = ", ".join(f"{j / s:.2f}" for j, s in zip(job_rates, script_rates, strict=True))
        print(
            f"{'2-rank DDP (gloo)':<20} {'steps/s: job vs script under torchrun':<44} "
            f"{job_rate:>9.1f} {script_rate:>9.1f} {job_rate / script_rate:>6.2f}x (pairs {pairs})"
        )
    if first:
        print(
            f"{'jobs list':<20} {'page of 50 of 10,000 (first / page 101)':<44} "
            f"{median(first) * 1000:>7.1f}ms {median(deep) * 1000:>7.1f}ms"
        )


def list_timings(jobs: JobService) -> tuple[list[float], list[float]]:
    """Server time (query + JSON) of the first page and of page 101, 50 jobs each."""
    now = datetime.now(UTC)
    with jobs.db.session() as session:
        session.add_all(
            Job(
                id=f"bench-{i:05d}",
                name=f"job {i}",
                notebook_path="big.ipynb",
                status="SUCCEEDED",
                created_at=now - timedelta(seconds=i),
                spec={"nodes": 1, "procs_per_node": 1},
            )
            for i in range(10_000)
        )
    token = None
    for _ in range(100):
        token = jobs.list(PageRequest(50, token)).next_page_token
    first, deep = [], []
    for _ in range(50):
        start = time.perf_counter()
        json.dumps(jobs.list(PageRequest(50)).items)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        json.dumps(jobs.list(PageRequest(50, token)).items)
        deep.append(time.perf_counter() - start)
    return first, deep


if __name__ == "__main__":
    main()
