"""Start-up of the CLI and the Python API, each a whole process, against a peer on the same machine.

    .venv/bin/python bench/bench_cli.py [--runs 7] [--parts help,ls,register,submit]

1. `labrig --help` vs `python -c pass` (target: at most 0.3 s);
2. `labrig jobs ls` on a migrated database holding 3 finished jobs (at most 0.8 s);
3. a first `labrig.models.register(...)` of a 1 KiB file in a fresh process (at most 1 s);
4. `labrig jobs submit nb.ipynb --wait` of a 3-cell notebook vs the `papermill` CLI on the same
   notebook (at most 1.2x), run in turn (A B A B ...) so drift of the machine hits both.

Every run is a new process started from this script (`subprocess`, wall time by
`time.perf_counter`, CPU time from `getrusage(RUSAGE_CHILDREN)`), after one warm-up run that is
not counted; each row prints min and median, and ratios are taken pair by pair. On a shared
machine wall times move with its load; the CPU seconds move much less. State lives in a
temporary directory (LABRIG_DATA_DIR), so no jobs or models are left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
PARTS = ("help", "ls", "register", "submit")
TARGETS = {"help": 0.3, "ls": 0.8, "register": 1.0}
SUBMIT_RATIO = 1.2


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def run_ok(command: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def children_cpu() -> float:
    """User + system seconds of the finished child processes so far (the CLI's own, not what
    it left running detached)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Series:
    """Wall seconds of each counted run, and the CPU seconds its processes used."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def add(self, run: Callable[[], float]) -> None:
        before = children_cpu()
        self.wall.append(run())
        self.cpu.append(children_cpu() - before)


def series(run: Callable[[], float], runs: int) -> Series:
    run()  # warm-up: the OS's file cache, .pyc files
    found = Series()
    for _ in range(runs):
        found.add(run)
    return found


def row(name: str, measured: Series, baseline: Series | None = None) -> str:
    times = measured.wall
    text = (
        f"| {name} | {min(times):.3f} | {statistics.median(times):.3f} | "
        f"{statistics.median(measured.cpu):.3f} |"
    )
    if baseline is not None:
        ratios = [t / b for t, b in zip(times, baseline.wall, strict=True)]
        text += f" {min(ratios):.1f}x | {statistics.median(ratios):.1f}x |"
    else:
        text += " | |"
    return text


def write_notebook(path: Path, *cells: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="counted runs of each command")
    parser.add_argument("--parts", default=",".join(PARTS), help="which of " + ",".join(PARTS))
    args = parser.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    labrig = str(BIN / "labrig")
    work = Path(tempfile.mkdtemp(prefix="labrig-bench-cli-"))
    env = {**os.environ, "LABRIG_DATA_DIR": str(work / "state")}
    env.pop("LABRIG_CONFIG_FILE", None)
    env.pop("LABRIG_DATABASE_URL", None)
    write_notebook(work / "nb.ipynb", "x = 1", "y = x + 1", "print(y)")
    (work / "weights.bin").write_bytes(os.urandom(1024))
    # Before `--wait` existed (to measure an older labrig), a script polled `jobs show`.
    has_wait = (
        "--wait"
        in subprocess.run(
            [labrig, "jobs", "submit", "--help"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    )

    def submit_and_wait() -> float:
        if has_wait:
            return timed([labrig, "jobs", "submit", "nb.ipynb", "--wait"], env, work)
        start = time.perf_counter()
        job = json.loads(run_ok([labrig, "jobs", "submit", "nb.ipynb", "--json"], env, work))
        while True:
            shown = json.loads(run_ok([labrig, "jobs", "show", job["id"], "--json"], env, work))
            if shown["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return time.perf_counter() - start
            time.sleep(0.2)

    # A migrated database with jobs to list.
    for _ in range(3):
        submit_and_wait()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{args.runs} runs each after one warm-up; seconds of wall time per process\n")
    print("| command | min s | median s | median CPU s | min ratio | median ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    base = series(lambda: timed([sys.executable, "-c", "pass"], env, work), args.runs)
    print(row("`python -c pass`", base))
    verdicts = []

    def check(part: str, measured: Series) -> None:
        median = statistics.median(measured.wall)
        ok = "ok" if median <= TARGETS[part] else "OVER"
        verdicts.append(f"{part}: median {median:.3f} s, target <= {TARGETS[part]} s: {ok}")

    if "help" in parts:
        times = series(lambda: timed([labrig, "--help"], env, work), args.runs)
        print(row("`labrig --help`", times, base))
        check("help", times)
    if "ls" in parts:
        times = series(lambda: timed([labrig, "jobs", "ls"], env, work), args.runs)
        print(row("`labrig jobs ls`", times, base))
        check("ls", times)
    if "register" in parts:
        code = "import labrig.models; labrig.models.register('bench-cli', 'weights.bin')"
        times = series(lambda: timed([sys.executable, "-c", code], env, work), args.runs)
        print(row("first `labrig.models.register` (1 KiB file)", times, base))
        check("register", times)
    if "submit" in parts:
        labrig_times = Series()
        papermill_times = Series()
        papermill = [str(BIN / "papermill"), "--no-progress-bar", "nb.ipynb", "out.ipynb"]
        submit_and_wait()
        timed(papermill, env, work)
        for _ in range(args.runs):
            labrig_times.add(submit_and_wait)
            papermill_times.add(lambda: timed(papermill, env, work))
        print(row("`papermill nb.ipynb out.ipynb` (3 cells)", papermill_times))
        name = "--wait" if has_wait else "then `jobs show` until it ends"
        print(row(f"`labrig jobs submit nb.ipynb` {name}", labrig_times, papermill_times))
        ratio = statistics.median(
            a / b for a, b in zip(labrig_times.wall, papermill_times.wall, strict=True)
        )
        ok = "ok" if ratio <= SUBMIT_RATIO else "OVER"
        verdicts.append(f"submit --wait: median {ratio:.2f}x papermill, target <= 1.2x: {ok}")
    print()
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    main()
