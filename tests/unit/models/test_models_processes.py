"""Many processes at once, and processes killed mid-registration, leave a consistent registry."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from labrig.models.registry import ModelRegistry
from labrig.models.tables import ModelCounter, ModelFile, ModelVersion
from labrig.services import Services
from labrig.store.tables import RegisteredModel

pytestmark = pytest.mark.slow

WORKER = """
import json, os, sys, time
from pathlib import Path
import labrig.models as models

worker, count, go, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
models.open_registry()  # open the database before the start line
while not go.exists():
    time.sleep(0.005)
done = []
for i in range(count):
    f = work / f"w{worker}-{i}.bin"
    f.write_bytes(os.urandom(4096) + f"{worker}-{i}".encode())
    done.append(models.register("shared", f, metrics={"i": i})["version"])
print(json.dumps(done))
"""

LOOPER = """
import os, sys
from pathlib import Path
import labrig.models as models

work = Path(sys.argv[1])
models.open_registry()
print("ready", flush=True)
i = 0
while True:
    f = work / f"f{i % 3}.bin"
    f.write_bytes(os.urandom(1024 * 1024))
    models.register("killed", f, metrics={"i": i})
    i += 1
"""


def test_processes_registering_at_once_get_consecutive_numbers(
    services: Services, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(w), "5", str(go), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(8)
    ]
    time.sleep(1.0)
    go.touch()
    versions: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        versions += json.loads(out)
    assert sorted(versions) == list(range(1, 41))
    assert services.models.get("shared")["latest_version"] == 40
    assert services.models.get("shared")["version_count"] == 40


def check_consistent(reg: ModelRegistry) -> int:
    """Every visible version is whole: its files exist in the store with the right bytes."""
    with reg.db.session() as session:
        versions = list(session.scalars(select(ModelVersion).order_by(ModelVersion.version)))
        numbers = [v.version for v in versions]
        assert numbers == list(range(1, len(numbers) + 1)), "a number was lost or reused"
        if versions:
            model = session.get(RegisteredModel, "killed")
            assert model is not None
            assert model.latest_version == numbers[-1]
            counter = session.get(ModelCounter, "killed")
            assert counter is not None
            assert counter.next_version == numbers[-1] + 1
        for v in versions:
            files = list(session.scalars(select(ModelFile).where(ModelFile.version_id == v.id)))
            assert len(files) == v.file_count == 1
            assert sum(f.size for f in files) == v.size
            for f in files:
                with reg.store.open(f.sha256) as handle:
                    assert hashlib.sha256(handle.read()).hexdigest() == f.sha256
        orphans = session.scalar(
            select(func.count())
            .select_from(ModelFile)
            .where(ModelFile.version_id.not_in(select(ModelVersion.id)))
        )
        assert orphans == 0
    return len(versions)


def test_registrations_killed_at_random_points_leave_no_partial_version(
    services: Services, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("LABRIG_KILL_SEED", "6")))
    reg = services.models
    visible = 0
    for _trial in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", LOOPER, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        now = check_consistent(reg)
        assert now >= visible
        visible = now
    assert visible > 0, "no registration finished at all: the kill points were all too early"
    # What the killed registrations left behind is garbage, and only that is collected
    # (once their leases expire; a lease protects a registration still in flight).
    reg.gc(timedelta(0))
    check_consistent(reg)
    reg.gc(timedelta(0), lease_ttl=timedelta(0))
    check_consistent(reg)
    with reg.db.session() as session:
        referenced = set(session.scalars(select(ModelFile.sha256)))
    assert {sha for sha, _ in reg.store.iter_blobs()} == referenced
