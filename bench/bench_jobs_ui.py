"""Jobs panel smoothness: scroll 10,000 jobs in the panel's virtualised list, in headless Chromium.

    .venv/bin/python bench/bench_jobs_ui.py [--jobs 10000] [--step 300] [--port 18951]

Starts JupyterLab with the UI-test configuration on a fresh state directory, seeds the jobs into
its state database, and runs bench/jobs_ui_scroll.mjs, which scrolls the Jobs section's list
from top to bottom (300 px a frame; the list fetches further pages with page_token as it goes)
and then, in the same page, the peer: the same jobs rendered in full, one DOM row each, as the
list was before it was virtualised. Reports frame intervals (requestAnimationFrame), long tasks
and the rows in the DOM, and the ratios labrig / peer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from labrig.store import Database
from labrig.store.tables import Job

ROOT = Path(__file__).resolve().parent.parent


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer {url} within {seconds:.0f} s")


def seed(database_url: str, count: int) -> None:
    """Insert finished jobs, newest first by creation time, like bench_jobs.py does."""
    db = Database(database_url)
    now = datetime.now(UTC)
    statuses = ["SUCCEEDED", "FAILED", "CANCELLED"]
    with db.session() as session:
        session.add_all(
            Job(
                id=f"bench-{i:05d}",
                name=f"sweep lr={0.001 * (1 + i % 50):.3f} run {i}",
                notebook_path=f"experiments/train_{i % 7}.ipynb",
                status=statuses[i % 3] if i % 11 else "SUCCEEDED",
                reason=None if i % 3 == 0 else "cell 4 (loss.backward()): RuntimeError",
                created_at=now - timedelta(seconds=10 * i),
                spec={"nodes": 1, "procs_per_node": 1},
                finalized=True,
            )
            for i in range(count)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--step", type=int, default=300, help="pixels scrolled per frame")
    parser.add_argument("--port", type=int, default=18951)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="labrig-bench-ui-"))
    database_url = f"sqlite:///{data / 'labrig.db'}"
    env = {**os.environ, "LABRIG_UI_PORT": str(args.port)}
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "jupyter"),
            "lab",
            "--config",
            "tests/ui/jupyter_server_test_config.py",
            f"--LabrigApp.data_dir={data}",
            f"--LabrigApp.database_url={database_url}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://localhost:{args.port}"
    try:
        wait_for(f"{url}/labrig/api/v1/status", 180)
        seed(database_url, args.jobs)
        driver = subprocess.run(
            [
                "node",
                str(ROOT / "bench" / "jobs_ui_scroll.mjs"),
                url,
                str(args.jobs),
                str(args.step),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if driver.returncode != 0:
            sys.stderr.write(driver.stdout + driver.stderr)
            raise SystemExit(f"the Chromium driver failed ({driver.returncode})")
        result = json.loads(driver.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)

    ours, peer = result["labrig"], result["peer"]
    print(
        f"jobs panel: scroll {args.jobs:,} jobs top to bottom, {args.step} px a frame, "
        f"headless Chromium ({os.cpu_count()} CPUs)"
    )
    print(f"{'measure':<34} {'labrig':>10} {'peer':>10} {'ratio':>7}")
    for key, label in [
        ("p50_ms", "frame interval p50 (ms)"),
        ("p95_ms", "frame interval p95 (ms)"),
        ("p99_ms", "frame interval p99 (ms)"),
        ("max_ms", "frame interval max (ms)"),
        ("over_50ms", "frames over 50 ms"),
        ("long_tasks", "long tasks (>50 ms)"),
        ("long_task_ms", "long-task time (ms)"),
        ("max_rows_in_dom", "job rows in the DOM (max)"),
        ("dom_nodes", "DOM nodes in the list"),
    ]:
        a, b = float(ours[key]), float(peer[key])
        ratio = f"{a / b:6.2f}x" if b else "     -"
        print(f"{label:<34} {a:>10.1f} {b:>10.1f} {ratio}")
    print(
        f"labrig: {ours['rows_loaded']:,} jobs loaded by scrolling, {ours['frames']} frames in "
        f"{ours['seconds']:.1f} s ({ours['stalled_frames']} frames waiting for a page); "
        f"peer: {peer['rows']:,} rows built and laid out in {peer['build_and_layout_ms']:.0f} ms, "
        f"{peer['frames']} frames in {peer['seconds']:.1f} s"
    )
    print(f"labrig frames over 50 ms (s into the scroll, ms, top row): {ours['spikes']}")


if __name__ == "__main__":
    main()
