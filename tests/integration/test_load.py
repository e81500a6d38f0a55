"""The load run of ``bench/load_api.py`` in bounded form: clients polling the panel's endpoints
while jobs stream numbered log lines and a dataset warms; no request may fail and every line
must arrive once and in order. Latency is measured by the benchmark, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load_api.py"


def test_polling_clients_and_log_streams_lose_nothing() -> None:
    args = ["--clients", "10", "--seconds", "8", "--jobs", "2", "--lines", "150"]
    args += ["--dataset-mib", "16", "--json"]
    done = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=400
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["errors"] == []
    logs = report["logs"]
    assert logs["jobs_with_lost_duplicated_or_reordered_lines"] == [], logs
    assert logs["lines_received"] == [150, 150]
    assert all(row["requests"] > 0 for row in report["endpoints"].values()), report
    assert done.returncode == 0
