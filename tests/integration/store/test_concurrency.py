"""Many processes on one fresh database, on SQLite and on PostgreSQL: migrations run once,
registrations get consecutive versions, and two GPUs are granted exactly twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from labrig.models.tables import ModelVersion
from labrig.store import Database

pytestmark = pytest.mark.slow

#: Fresh interpreters, each opening the fresh database itself (so each may migrate it),
#: waiting at a start line, then registering ``count`` versions of one model.
REGISTER = """
import json, os, sys, time
from pathlib import Path

worker, count, go, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.005)
import labrig.models as models

done = []
for i in range(count):
    f = work / f"w{worker}-{i}.bin"
    f.write_bytes(os.urandom(1024) + f"{worker}-{i}".encode())
    done.append(models.register("shared", f, metrics={"i": i})["version"])
print(json.dumps(done))
"""

#: A fresh interpreter asking the ledger for one of the two configured GPUs.
ACQUIRE = """
import json, os, sys, time
from pathlib import Path

from labrig.errors import CapacityExceeded
from labrig.resources.service import ResourceService
from labrig.store import Database

holder, go, parent = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
service = ResourceService(
    Database(os.environ["LABRIG_DATABASE_URL"]),
    root_dir=Path.cwd(),
    gpu_inventory=json.loads(os.environ["INVENTORY"]),
    discover_gpus=False,
    user_quota=json.loads(os.environ.get("QUOTA", "{}")),
)
service.holders()  # connected before the start line
while not go.exists():
    time.sleep(0.002)
try:
    memory, gpus = int(os.environ.get("ASK_MEMORY", 0)) or None, int(os.environ.get("ASK_GPUS", 1))
    granted = service.acquire(holder, None, memory, gpus, None, pid=parent)
    print(json.dumps(granted if gpus else ["granted"]))
except CapacityExceeded:
    print("[]")
"""

INVENTORY = [
    {"uuid": "GPU-11111111-aaaa-bbbb-cccc-000000000000", "model": "Test-GPU-24GB"},
    {"uuid": "GPU-22222222-aaaa-bbbb-cccc-000000000000", "model": "Test-GPU-24GB"},
]


def _run_at_once(scripts: list[list[str]], go: Path, settle: float) -> list[str]:
    """Start every process, let them reach the start line, release them together; their
    outputs, each asserted to have succeeded."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in scripts
    ]
    time.sleep(settle)
    go.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(out)
    return outputs


def test_sixteen_fresh_processes_migrate_once_and_register_160_consecutive_versions(
    on_each_database: str, tmp_path: Path
) -> None:
    """16 new processes on a database nobody migrated yet (each migrates it on first use)
    register 10 versions each of one model: all succeed, versions 1..160 with no gap."""
    go = tmp_path / "go"
    scripts = [[REGISTER, str(w), "10", str(go), str(tmp_path)] for w in range(16)]
    outputs = _run_at_once(scripts, go, settle=0.5)
    versions = sorted(v for out in outputs for v in json.loads(out))
    assert versions == list(range(1, 161))
    db = Database(on_each_database)
    assert db.current_revision() == db.head_revision()
    with db.session() as session:
        stored = sorted(session.scalars(select(ModelVersion.version)))
    db.dispose()
    assert stored == list(range(1, 161))


def test_twenty_processes_racing_for_two_gpus_get_exactly_two_grants(
    on_each_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(on_each_database)
    db.upgrade()
    db.dispose()
    monkeypatch.setenv("INVENTORY", json.dumps(INVENTORY))
    go = tmp_path / "go"
    scripts = [[ACQUIRE, f"job:race/rank{i}", str(go), str(os.getpid())] for i in range(20)]
    outputs = _run_at_once(scripts, go, settle=4.0)
    grants = [json.loads(out) for out in outputs]
    granted = [uuids for uuids in grants if uuids]
    assert len(granted) == 2, grants
    assert sorted(u for uuids in granted for u in uuids) == sorted(g["uuid"] for g in INVENTORY)


def test_one_users_processes_racing_past_a_memory_quota_get_one_grant(
    on_each_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU's primary key stops a double grant of that GPU; nothing in the schema stops two
    grants that each fit the user's quota alone but not together: the ledger's transactions
    must run one after the other (BEGIN IMMEDIATE; an advisory lock on PostgreSQL)."""
    db = Database(on_each_database)
    db.upgrade()
    db.dispose()
    monkeypatch.setenv("INVENTORY", json.dumps(INVENTORY))
    monkeypatch.setenv("QUOTA", json.dumps({"memory": "4Gi"}))
    monkeypatch.setenv("ASK_MEMORY", str(3 * 2**30))
    monkeypatch.setenv("ASK_GPUS", "0")
    go = tmp_path / "go"
    scripts = [[ACQUIRE, f"job:quota/rank{i}", str(go), str(os.getpid())] for i in range(8)]
    grants = [json.loads(out) for out in _run_at_once(scripts, go, settle=3.0)]
    assert len([uuids for uuids in grants if uuids]) == 1, grants
