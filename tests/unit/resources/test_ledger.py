"""The GPU ledger: exclusive grants that survive restarts and die with their holder."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from resources_kit import INVENTORY, make_service

from labrig.errors import CapacityExceeded, InvalidInput
from labrig.resources import enforce
from labrig.resources.service import ResourceService

GPU_A, GPU_B = (g["uuid"] for g in INVENTORY)


def test_grants_are_exclusive_and_the_refusal_names_the_holder(
    resources: ResourceService,
) -> None:
    assert resources.acquire("kernel:k1", 1, None, 1, None, notebook_path="nb/a.ipynb") == [GPU_A]
    assert resources.acquire("kernel:k2", 1, None, 1, None, notebook_path="nb/b.ipynb") == [GPU_B]
    with pytest.raises(CapacityExceeded) as caught:
        resources.acquire("kernel:k3", 1, None, 1, None, notebook_path="nb/c.ipynb")
    message = caught.value.message
    assert message.startswith("1 GPU requested, 0 free")
    assert f"{GPU_A} is held by nb/a.ipynb (kernel:k1)" in message
    assert caught.value.field == "gpus"
    resources.release("kernel:k1")
    assert resources.acquire("kernel:k3", 1, None, 1, None) == [GPU_A]


def test_two_requested_one_free_says_so(resources: ResourceService) -> None:
    resources.acquire("kernel:k1", None, None, 1, None, notebook_path="notebooks/train.ipynb")
    with pytest.raises(
        CapacityExceeded,
        match=r"2 GPUs requested, 1 free: GPU-aaaa.* is held by notebooks/train.ipynb",
    ):
        resources.acquire("kernel:k2", None, None, 2, None)


def test_reacquiring_replaces_the_old_grant(resources: ResourceService) -> None:
    assert resources.acquire("kernel:k1", None, None, 2, None) == [GPU_A, GPU_B]
    assert resources.acquire("kernel:k1", None, None, 1, None) == [GPU_A]
    assert resources.acquire("job:j1/rank0", None, None, 1, None) == [GPU_B]


def test_unknown_type_and_more_than_the_host_are_refused(resources: ResourceService) -> None:
    with pytest.raises(InvalidInput, match=r"'H100' is not on this host") as caught:
        resources.acquire("kernel:k1", None, None, 1, "H100")
    assert caught.value.field == "gpu_type"
    with pytest.raises(InvalidInput, match="3 GPUs requested, this host has 2"):
        resources.acquire("kernel:k1", None, None, 3, None)
    with pytest.raises(InvalidInput, match="holder"):
        resources.acquire("someone", None, None, 1, None)


def test_a_dead_holder_loses_its_gpus_however_it_died(resources: ResourceService) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        resources.acquire("kernel:dead", None, None, 1, None, pid=victim.pid)
        resources.acquire("kernel:alive", None, None, 1, None)
        with pytest.raises(CapacityExceeded):
            resources.acquire("kernel:k3", None, None, 1, None)
        victim.kill()
        victim.wait()
        assert resources.acquire("kernel:k3", None, None, 1, None) == [GPU_A]
    finally:
        victim.kill()


def test_an_unreaped_zombie_counts_as_dead(resources: ResourceService) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "pass"])
    resources.acquire("kernel:z", None, None, 2, None)
    resources.attach("kernel:z", victim.pid)
    while True:  # exited but not waited for: a zombie
        try:
            if Path(f"/proc/{victim.pid}/stat").read_text().split()[2] == "Z":
                break
        except OSError:
            break
    assert resources.acquire("kernel:k2", None, None, 2, None) == [GPU_A, GPU_B]
    victim.wait()


def test_grants_survive_a_restart(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    first = make_service(db_url, tmp_path)
    first.acquire("kernel:k1", None, None, 1, None, pid=os.getpid())
    first.db.dispose()
    second = make_service(db_url, tmp_path)
    assert second.acquire("kernel:k2", None, None, 1, None) == [GPU_B]
    with pytest.raises(CapacityExceeded, match="kernel:k1"):
        second.acquire("kernel:k3", None, None, 1, None)
    second.db.dispose()


def test_quota_counts_what_the_user_holds(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    service = make_service(db_url, tmp_path, user_quota={"gpus": 1, "memory": "4Gi"})
    service.acquire("kernel:k1", None, 3 * 2**30, 1, None)
    with pytest.raises(CapacityExceeded, match=r"gpus: 1 requested.*quota of 1"):
        service.acquire("kernel:k2", None, None, 1, None)
    with pytest.raises(CapacityExceeded, match=r"memory: 2 GiB requested.*3 GiB of your quota"):
        service.acquire("kernel:k2", None, 2 * 2**30, 0, None)
    service.db.dispose()


def _race_worker(
    db_url: str, root: str, holder: str, parent: int, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    service = make_service(db_url, Path(root), migrate=False)
    try:
        out.put((holder, service.acquire(holder, None, None, 1, None, pid=parent)))
    except CapacityExceeded:
        out.put((holder, []))
    service.db.dispose()


def test_twenty_concurrent_requests_for_two_gpus_get_exactly_two_grants(
    db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "work").mkdir()
    make_service(db_url, tmp_path).db.dispose()  # migrate once
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    processes = [
        ctx.Process(
            target=_race_worker,
            args=(db_url, str(tmp_path), f"job:race/rank{i}", os.getpid(), queue),
        )
        for i in range(10)
    ]
    results: list[tuple[str, list[str]]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def thread_worker(i: int) -> None:
        service = make_service(db_url, tmp_path, migrate=False)
        barrier.wait()
        try:
            granted = service.acquire(f"kernel:race-{i}", None, None, 1, None)
        except CapacityExceeded:
            granted = []
        with lock:
            results.append((f"kernel:race-{i}", granted))
        service.db.dispose()

    threads = [threading.Thread(target=thread_worker, args=(i,)) for i in range(10)]
    for process in processes:
        process.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    results += [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(60)
    assert len(results) == 20
    grants = [uuid for _, granted in results for uuid in granted]
    assert sorted(grants) == sorted([GPU_A, GPU_B])
    check = make_service(db_url, tmp_path)
    live = [h for h in check.holders() if h["gpus"]]
    assert sorted(u for h in live for u in h["gpus"]) == sorted([GPU_A, GPU_B])
    check.db.dispose()


@pytest.mark.skipif(not enforce.detect().controllers, reason="labrig cannot create cgroups here")
def test_a_crashed_servers_cgroups_are_removed_with_its_dead_holder(
    resources: ResourceService,
) -> None:
    support = enforce.detect()
    groups = enforce.create_groups(support, "kernel-crashed", cpus=1, memory=2**28, busy_cpus={})
    assert set(groups.paths) >= {"cpuset", "memory"} & set(support.controllers)
    assert groups.paths
    victim = subprocess.Popen([sys.executable, "-c", "pass"])
    victim.wait()
    resources.acquire("kernel:crashed", 1, 2**28, 1, None, pid=victim.pid)
    resources.attach("kernel:crashed", victim.pid, {"cgroups": groups.paths})
    assert all(Path(p).is_dir() for p in groups.paths.values())
    assert resources.acquire("kernel:next", None, None, 2, None) == [GPU_A, GPU_B]
    assert not any(Path(p).exists() for p in groups.paths.values())
    groups.remove()
