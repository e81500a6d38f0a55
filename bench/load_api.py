"""Many users on one server: the panel's endpoints under load while jobs run and a dataset warms.

    .venv/bin/python bench/load_api.py [--clients 50] [--seconds 60] [--jobs 4] [--lines 1000]
                                       [--interval 5] [--usage-interval 3] [--dataset-mib 256]
                                       [--json]

Starts a Jupyter server with labrig (local backend, SQLite, a fresh state directory), adds a
local dataset of ``--dataset-mib`` MiB and warms it, and submits ``--jobs`` jobs whose notebook
prints numbered lines for the whole run. Then ``--clients`` clients poll as the panel does: every
``--interval`` seconds (the panel's default, 5 s) the status, the four section lists and the
schedules at once, and every ``--usage-interval`` seconds (3 s) the open notebook's usage, while
one server-sent-events stream per job follows its log. Reports p50/p99/max latency per endpoint,
every error, and whether each job's numbered lines all arrived, once and in order. Exits 1 when
a request failed or a log line was lost, duplicated or reordered. The clients run in this one
process on the same machine as the server, so their own CPU time counts in the latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nbformat

ROOT = Path(__file__).resolve().parent.parent
API = "labrig/api/v1"
LINE = re.compile(r"^line (\d{6})$")

#: What the panel polls at each refresh, all at once (``LabrigModel._fetchAll``).
POLLED = {
    "status": "status",
    "resources": "resources?limit=50",
    "datasets": "datasets?limit=50",
    "jobs": "jobs?limit=50",
    "models": "models?limit=50",
    "job-schedules": "job-schedules?limit=50",
}
#: What the Resources section samples on its own interval.
USAGE = {"resource-usage": "resource-usage/train.ipynb"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_workspace(root: Path, lines: int, dataset_mib: int) -> None:
    numbered = nbformat.v4.new_notebook()
    numbered.cells = [
        nbformat.v4.new_code_cell(
            "import time\n"
            f"for i in range({lines}):\n"
            "    print(f'line {i:06d}', flush=True)\n"
            "    time.sleep(0.05)"
        )
    ]
    nbformat.write(numbered, root / "numbered.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), root / "train.ipynb")
    data = root / "data" / "shards"
    data.mkdir(parents=True)
    for index in range(max(1, dataset_mib // 16)):
        (data / f"shard-{index:04d}.bin").write_bytes(os.urandom(16 * 1024 * 1024))


def start_server(root: Path, state: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LABRIG_DATA_DIR": str(state), "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("LABRIG_DATABASE_URL", None)
    log = (state / "server.log").open("wb")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def wait_ready(client: httpx.AsyncClient, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):  # not listening yet
            if (await client.get(f"{API}/status")).status_code == 200:
                return
        await asyncio.sleep(0.5)
    raise SystemExit(f"the server did not answer within {seconds:.0f} s")


async def prepare(client: httpx.AsyncClient, root: Path, jobs: int) -> list[str]:
    """Add and warm the dataset, submit the jobs; return the job ids."""
    added = await client.post(
        f"{API}/datasets", json={"name": "shards", "source_url": (root / "data").as_uri()}
    )
    added.raise_for_status()
    (await client.post(f"{API}/datasets/shards/warm", json={})).raise_for_status()
    ids = []
    for index in range(jobs):
        body = {"notebook_path": "numbered.ipynb", "name": f"load {index}", "cpus": 0.25}
        reply = await client.post(f"{API}/jobs", json=body)
        reply.raise_for_status()
        ids.append(reply.json()["id"])
    return ids


class Tally:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {name: [] for name in {**POLLED, **USAGE}}
        self.errors: list[str] = []

    def summary(self) -> dict[str, Any]:
        rows = {}
        for name, values in self.latencies.items():
            ordered = sorted(values)
            rows[name] = {
                "requests": len(ordered),
                "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
                "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
                "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 1),
            }
        return {"endpoints": rows, "errors": self.errors}


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def timed_get(client: httpx.AsyncClient, tally: Tally, name: str, path: str) -> None:
    sent = time.monotonic()
    try:
        reply = await client.get(f"{API}/{path}")
    except httpx.HTTPError as err:
        tally.errors.append(f"{name}: {type(err).__name__}: {err}")
        return
    tally.latencies[name].append(time.monotonic() - sent)
    if reply.status_code != 200:
        tally.errors.append(f"{name}: HTTP {reply.status_code} {reply.text[:200]}")


async def poll_client(
    client: httpx.AsyncClient,
    tally: Tally,
    until: float,
    endpoints: dict[str, str],
    interval: float,
    offset: float,
) -> None:
    """One panel's refreshes of ``endpoints``, all at once every ``interval`` seconds."""
    await asyncio.sleep(offset)  # panels start spread over one interval, as browsers would
    while time.monotonic() < until:
        started = time.monotonic()
        await asyncio.gather(*(timed_get(client, tally, n, p) for n, p in endpoints.items()))
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


async def follow_log(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """Read the job's event stream to its end; check its numbered lines."""
    text = ""
    status = None
    async with client.stream("GET", f"{API}/jobs/{job_id}/events", timeout=None) as reply:
        event = None
        async for line in reply.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "log":
                data = json.loads(line[6:])
                if data["rank"] == 0:
                    text += data["text"]
            elif line.startswith("data: ") and event == "status":
                status = json.loads(line[6:])["status"]
            elif line.startswith("data: ") and event == "end":
                break
    numbers = [int(m.group(1)) for m in map(LINE.match, text.splitlines()) if m]
    return {"job": job_id, "status": status, "numbers": numbers}


def check_lines(streams: list[dict[str, Any]], lines: int) -> dict[str, Any]:
    expected = list(range(lines))
    bad = [s["job"] for s in streams if s["numbers"] != expected or s["status"] != "SUCCEEDED"]
    return {
        "jobs": len(streams),
        "lines_expected_per_job": lines,
        "lines_received": [len(s["numbers"]) for s in streams],
        "statuses": [s["status"] for s in streams],
        "jobs_with_lost_duplicated_or_reordered_lines": bad,
    }


async def run(args: argparse.Namespace, root: Path, port: int, token: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.clients + args.jobs + 4)
    headers = {"Authorization": f"token {token}"}
    base = f"http://127.0.0.1:{port}/"
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:
        await wait_ready(client, 120)
        job_ids = await prepare(client, root, args.jobs)
        tally = Tally()
        until = time.monotonic() + args.seconds
        pollers = [
            poll_client(client, tally, until, endpoints, every, every * i / args.clients)
            for endpoints, every in ((POLLED, args.interval), (USAGE, args.usage_interval))
            for i in range(args.clients)
        ]
        streams = [follow_log(client, job_id) for job_id in job_ids]
        results = await asyncio.gather(*pollers, *streams)
        report = tally.summary()
        report["logs"] = check_lines([r for r in results if isinstance(r, dict)], args.lines)
        return report


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{args.clients} panels refreshing every {args.interval:g} s (usage every "
        f"{args.usage_interval:g} s) for {args.seconds:g} s, "
        f"{args.jobs} jobs printing {args.lines} lines, a {args.dataset_mib} MiB dataset warming"
    )
    print(f"{'endpoint':<16}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, row in report["endpoints"].items():
        print(
            f"{name:<16}{row['requests']:>9}{row['p50_ms']:>9}{row['p99_ms']:>9}{row['max_ms']:>9}"
        )
    logs = report["logs"]
    print(
        f"errors: {len(report['errors'])}; log lines per job: {logs['lines_received']} of "
        f"{logs['lines_expected_per_job']}; statuses {logs['statuses']}; jobs with lost, "
        f"duplicated or reordered lines: {logs['jobs_with_lost_duplicated_or_reordered_lines']}"
    )
    for error in report["errors"][:20]:
        print("  ", error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--lines", type=int, default=1000, help="numbered lines each job prints")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between refreshes")
    parser.add_argument("--usage-interval", type=float, default=3.0, help="seconds between usage")
    parser.add_argument("--dataset-mib", type=int, default=256)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="labrig-load-"))
    root, state = workdir / "root", workdir / "state"
    root.mkdir()
    state.mkdir()
    write_workspace(root, args.lines, args.dataset_mib)
    port, token = free_port(), secrets.token_hex(16)
    server = start_server(root, state, port, token)
    try:
        report = asyncio.run(run(args, root, port, token))
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    failed = bool(
        report["errors"] or report["logs"]["jobs_with_lost_duplicated_or_reordered_lines"]
    )
    if failed:
        print(f"server log kept in {state / 'server.log'}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2) if args.json else "", end="")
    if not args.json:
        print_report(report, args)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
