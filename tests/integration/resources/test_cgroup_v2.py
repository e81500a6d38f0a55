"""On a cgroup v2 host where labrig may write the hierarchy (root without systemd, a container's
own cgroup namespace, or a delegated subtree), real kernels and processes run in their own v2
group with cpuset.cpus, cpu.max and memory.max, and one past its memory.max is OOM-killed by the
kernel, not by labrig's watchdog. Elsewhere these tests skip, saying why.

Run on a v2 host (e.g. the lent GPU machine), from the repository root:

    PYTHONPATH=server_ext:kernels:dataset_mounts python -m pytest -q -p no:randomly \\
        tests/integration/resources/test_cgroup_v2.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager, start_new_kernel
from resource_rig import provisioner_service

from labrig.resources import cgroup_v2, enforce, runtime
from labrig.resources.service import ResourceService

SUPPORT = enforce.detect()
MiB = 2**20


def _why_not() -> str | None:
    if SUPPORT.cgroup_version != "v2":
        return (
            f"cgroup {SUPPORT.cgroup_version} host: the cgroup v2 tests run on a v2 host, "
            "e.g. the lent GPU machine"
        )
    if SUPPORT.v2 is None:
        return f"cgroup v2 host, but labrig cannot make groups here: {SUPPORT.v2_reason}"
    missing = {"cpuset", "cpu", "memory"} - set(SUPPORT.controllers)
    if missing:
        return f"cgroup v2 host without the {', '.join(sorted(missing))} controller delegated"
    return None


WHY_NOT = _why_not()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")]


def group_of(pid: int) -> Path:
    """The v2 group of ``pid``, from the kernel's own record of it."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return enforce.CGROUP_ROOT / line[3:].strip().lstrip("/")
    raise AssertionError(f"no v2 line in /proc/{pid}/cgroup")


def read(path: Path) -> str:
    return path.read_text().strip()


@pytest.fixture
def service(labrig_env: Path, tmp_path: Path) -> Iterator[ResourceService]:
    built = provisioner_service(labrig_env, tmp_path / "root")
    yield built
    runtime.set_current(None)
    built.db.dispose()


def start(kernel: str, notebook: str) -> tuple[KernelManager, Any]:
    env = {**os.environ, "LABRIG_NOTEBOOK_PATH": notebook}
    manager, client = start_new_kernel(kernel_name=kernel, env=env, startup_timeout=120)
    return manager, client


def run(client: Any, code: str) -> str:
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])

    reply = client.execute_interactive(code, timeout=120, output_hook=hook)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def test_a_kernel_runs_in_its_own_group_with_cpu_max_cpuset_and_memory_max(
    labrig_kernel: str, service: ResourceService
) -> None:
    service.save("nb/v2.ipynb", {"cpus": 1.5, "memory": "512Mi"})
    manager, client = start(labrig_kernel, "nb/v2.ipynb")
    pid = manager.provisioner.pid  # type: ignore[union-attr]
    group = group_of(pid)
    try:
        assert SUPPORT.v2 is not None
        assert group == SUPPORT.v2.base / f"kernel-{manager.kernel_id}"
        assert read(group / "cpu.max") == "150000 100000"
        cpus = enforce.parse_cpu_list(read(group / "cpuset.cpus.effective"))
        assert len(cpus) == 2
        assert read(group / "memory.max") == str(512 * MiB)
        (allocation,) = service.show("nb/v2.ipynb")["allocations"]
        labels = allocation["enforcement"]
        cpu_list = ",".join(map(str, cpus))
        assert labels["cpu"] == {
            "state": "enforced",
            "mechanism": f"cgroup v2 cpuset.cpus {cpu_list} + cpu.max 150000 100000",
        }
        assert labels["memory"] == {"state": "enforced", "mechanism": "cgroup v2 memory.max 512Mi"}
        # What the kernel runs is inside the group too, and sees only its CPUs.
        seen = run(
            client,
            "import os, subprocess\n"
            "print(sorted(os.sched_getaffinity(0)))\n"
            "print(subprocess.check_output(['cat', '/proc/self/cgroup'], text=True))",
        )
        assert str(cpus) in seen
        assert f"0::/{group.relative_to(enforce.CGROUP_ROOT).as_posix()}" in seen
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert not group.exists()  # removed with the kernel


def test_past_memory_max_the_kernel_oom_kills_it_not_the_watchdog(
    labrig_kernel: str, service: ResourceService
) -> None:
    service.save("nb/oom.ipynb", {"memory": "256Mi"})
    manager, client = start(labrig_kernel, "nb/oom.ipynb")
    group = group_of(manager.provisioner.pid)  # type: ignore[union-attr]
    try:
        labels = service.show("nb/oom.ipynb")["allocations"][0]["enforcement"]
        assert labels["memory"]["mechanism"] == "cgroup v2 memory.max 256Mi"
        client.execute("x = b'x' * (700 * 2**20)\nimport time; time.sleep(60)")
        for _ in range(150):
            if not manager.is_alive():
                break
            time.sleep(0.2)
        assert not manager.is_alive()
        assert cgroup_v2.oom_kills(group) >= 1  # the kernel's OOM killer acted in the group
        stop = service.last_stop("nb/oom.ipynb")
        assert stop is not None
        assert stop["message"] == "kernel stopped: memory limit 256 MiB reached"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert not group.exists()


def test_a_process_the_launcher_starts_is_held_by_memory_max(tmp_path: Path) -> None:
    """What a job rank's kernel gets: a memory group and ``labrig.kernels.launch``."""
    groups = enforce.create_groups(
        SUPPORT, f"test-{os.getpid()}", cpus=None, memory=128 * MiB, busy_cpus={}
    )
    try:
        (group,) = groups.dirs()
        hog = "x = b'x' * (400 * 2**20)"
        launcher = [sys.executable, "-m", "labrig.kernels.launch", "--cgroup", group, "--"]
        launched = subprocess.run([*launcher, sys.executable, "-c", hog], timeout=120)
        assert launched.returncode == -signal.SIGKILL
        assert groups.memory_stopped()
    finally:
        groups.remove()
    assert not Path(group).exists()


def test_a_delegated_subtree_holding_processes_gets_a_leaf_for_them(tmp_path: Path) -> None:
    """The no-internal-processes rule on the real kernel: a scope with a process in it (as
    ``systemd-run --scope`` makes) can only nest limited groups once its process moved out."""
    assert SUPPORT.v2 is not None
    cgroup_v2.prepare(SUPPORT.v2)  # the scope's parent hands the controllers down to it
    scope = SUPPORT.v2.own / f"labrig-test-scope-{os.getpid()}"
    scope.mkdir()
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        (scope / "cgroup.procs").write_text(str(sleeper.pid))
        proc = tmp_path / "proc-self-cgroup"
        proc.write_text(f"0::/{scope.relative_to(enforce.CGROUP_ROOT).as_posix()}\n")
        support = enforce.detect(enforce.CGROUP_ROOT, proc_cgroup=proc)
        assert support.v2 is not None
        assert support.v2.own == scope
        groups = enforce.create_groups(support, "kernel-x", cpus=1, memory=64 * MiB, busy_cpus={})
        assert groups.dirs() == [str(scope / "labrig" / "kernel-x")]
        assert group_of(sleeper.pid) == scope / "labrig-server"
        assert set(read(scope / "cgroup.subtree_control").split()) >= {"cpu", "memory"}
        with pytest.raises(OSError, match="busy"):  # why the leaf is needed
            (scope / "cgroup.procs").write_text(str(sleeper.pid))
        groups.remove()
        assert not (scope / "labrig" / "kernel-x").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
        home = SUPPORT.v2.leaf if SUPPORT.v2.leaf.is_dir() else SUPPORT.v2.own
        cgroup_v2.empty_and_remove(scope, home, cgroup_v2.REAL)
    assert not scope.exists()
