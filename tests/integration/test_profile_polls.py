"""``bench/profile_polls.py`` in bounded form: it seeds a state, measures the server's CPU per
polled request against a baseline server and profiles its threads. Run against this checkout
as its own baseline, both servers must answer every endpoint alike. Figures are measured by
the benchmark, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "profile_polls.py"


def test_profile_polls_measures_every_polled_endpoint_of_both_servers() -> None:
    args = ["--requests", "20", "--rounds", "2", "--jobs", "20", "--models", "3"]
    args += ["--datasets", "2", "--idle-seconds", "1", "--baseline", str(ROOT), "--profile"]
    done = subprocess.run(
        [sys.executable, str(BENCH), *args, "--json"], capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert set(report["endpoints"]) == {
        "status",
        "resources",
        "datasets",
        "jobs",
        "models",
        "job-schedules",
        "resource-usage",
    }
    for name, row in report["endpoints"].items():
        assert row["same_reply"], name
        for server in ("current", "baseline"):
            assert row[server]["cpu_ms_raw"] > 0, (name, row)
            assert row[server]["bytes"] > 0, (name, row)
    listed = [f for f, _ in report["profiles"]["jobs"]["labrig"]]
    assert any(f.startswith("labrig/jobs/queries.py:") for f in listed), listed
