"""cgroup v2 enforcement against a tree that plays the kernel (``cgroupfs_kit``): where labrig
nests its groups, which file gets which value, the no-internal-processes rule, delegated
subtrees, cleanup and the labels the panel shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from cgroupfs_kit import FakeKernel

from labrig.resources import enforce
from labrig.resources.backend import describe_cgroups

GiB = 2**30


@pytest.fixture
def kernel(tmp_path: Path) -> FakeKernel:
    return FakeKernel(tmp_path / "cgroup")


def detect(kernel: FakeKernel, tmp_path: Path, own: Path) -> enforce.HostSupport:
    return enforce.detect(kernel.root, proc_cgroup=kernel.proc_cgroup(tmp_path, own), fs=kernel)


def test_a_writable_root_is_used_with_the_cpu_cpuset_and_memory_controllers(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    support = detect(kernel, tmp_path, kernel.root)
    assert support.cgroup_version == "v2"
    assert support.v2 is not None
    assert support.v2.own == kernel.root
    assert support.controllers == ("cpuset", "cpu", "memory")
    assert support.labels()["cpu"] == {
        "state": "enforced",
        "mechanism": "cgroup v2 cpuset.cpus + cpu.max",
    }
    assert support.labels()["memory"] == {"state": "enforced", "mechanism": "cgroup v2 memory.max"}
    described = enforce.describe(support)
    assert described == {"cgroups": "v2", "controllers": ["cpuset", "cpu", "memory"]}
    assert describe_cgroups(support) == (
        f"v2 (labrig creates groups with cpuset, cpu, memory under {kernel.root / 'labrig'})"
    )
    assert [p.name for p in kernel.root.iterdir() if p.is_dir()] == []  # the probe is gone


def test_a_kernel_group_gets_cpuset_cpu_max_and_memory_max(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    support = detect(kernel, tmp_path, kernel.root)
    groups = enforce.create_groups(
        support, "kernel-k1", cpus=1.5, memory=2 * GiB, busy_cpus={0: 2, 1: 1}
    )
    group = kernel.root / "labrig" / "kernel-k1"
    assert groups.dirs() == [str(group)]
    assert set(groups.paths) == {"cpuset", "cpu", "memory"}
    assert kernel.text(kernel.root / "cgroup.subtree_control") == "cpuset cpu memory"
    assert kernel.text(kernel.root / "labrig" / "cgroup.subtree_control") == "cpuset cpu memory"
    assert kernel.text(group / "cpuset.cpus") == "2,3"  # the two least busy
    assert kernel.text(group / "cpu.max") == "150000 100000"
    assert kernel.text(group / "memory.max") == str(2 * GiB)
    assert kernel.text(group / "memory.swap.max") == "0"
    assert kernel.text(group / "memory.oom.group") == "1"
    # The request carries no pids or io limit: nothing is written for them, not even enabled.
    assert not (group / "pids.max").exists()
    assert not any("pids" in value or "io" in value for _, value in kernel.writes)
    labels = enforce.applied_labels(support, groups, cpus=1.5, memory=2 * GiB)
    assert labels["cpu"] == {
        "state": "enforced",
        "mechanism": "cgroup v2 cpuset.cpus 2,3 + cpu.max 150000 100000",
    }
    assert labels["memory"] == {"state": "enforced", "mechanism": "cgroup v2 memory.max 2Gi"}


def test_the_kernel_joins_its_group_and_leaves_nothing_behind(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    support = detect(kernel, tmp_path, kernel.root)
    groups = enforce.create_groups(support, "kernel-k2", cpus=2, memory=GiB, busy_cpus={})
    (group,) = groups.dirs()
    kernel.write(Path(group) / "cgroup.procs", "4242")  # what labrig.kernels.launch does
    kernel.write(Path(group) / "cgroup.procs", "4243")  # a process the kernel started
    assert kernel.where(4242) == Path(group)
    kernel.write(kernel.root / "cgroup.procs", "4242")  # the kernel exited (gone from it)
    groups.remove()
    assert not Path(group).exists()
    assert kernel.where(4243) == kernel.root  # the straggler lives on, outside the limits
    assert (kernel.root / "labrig").is_dir()  # the base stays for the next kernel


def test_only_what_was_requested_is_written(kernel: FakeKernel, tmp_path: Path) -> None:
    support = detect(kernel, tmp_path, kernel.root)
    groups = enforce.create_groups(support, "kernel-mem", cpus=None, memory=GiB, busy_cpus={})
    group = kernel.root / "labrig" / "kernel-mem"
    assert set(groups.paths) == {"memory"}
    assert kernel.text(group / "cpu.max") == "max 100000"
    assert kernel.text(group / "cpuset.cpus") == ""
    nothing = enforce.create_groups(support, "kernel-none", cpus=None, memory=None, busy_cpus={})
    assert nothing.paths == {}
    assert not (kernel.root / "labrig" / "kernel-none").exists()
    labels = enforce.applied_labels(support, nothing, cpus=None, memory=None)
    assert labels["cpu"]["mechanism"] == "no CPU limit requested"
    assert labels["memory"]["mechanism"] == "no memory limit requested"


def test_a_group_holding_processes_moves_them_into_a_leaf_first(tmp_path: Path) -> None:
    """A container's namespace root (not the true root) with its processes in it."""
    kernel = FakeKernel(tmp_path / "cgroup", true_root=False)
    kernel.write(kernel.root / "cgroup.procs", "1")
    kernel.write(kernel.root / "cgroup.procs", "77")  # the Jupyter server
    support = detect(kernel, tmp_path, kernel.root)
    assert support.v2 is not None
    groups = enforce.create_groups(support, "kernel-k3", cpus=1, memory=GiB, busy_cpus={})
    assert kernel.text(kernel.root / "cgroup.procs") == ""
    assert kernel.where(1) == kernel.where(77) == kernel.root / "labrig-server"
    assert kernel.text(kernel.root / "cgroup.subtree_control") == "cpuset cpu memory"
    assert groups.dirs() == [str(kernel.root / "labrig" / "kernel-k3")]
    # The server, now in the leaf, nests its next groups in the same place, not deeper.
    again = detect(kernel, tmp_path, kernel.root / "labrig-server")
    assert again.v2 is not None
    assert again.v2.own == kernel.root
    # A kernel group emptied at removal sends its stragglers to the leaf (the root may hold none).
    kernel.write(Path(groups.dirs()[0]) / "cgroup.procs", "88")
    groups.remove()
    assert kernel.where(88) == kernel.root / "labrig-server"


def test_a_delegated_subtree_nests_groups_inside_it(tmp_path: Path) -> None:
    """systemd-run --scope -p Delegate=yes: the scope's group is the server's, and only the
    controllers the parent enabled for it are used."""
    kernel = FakeKernel(tmp_path / "cgroup")
    kernel.write(kernel.root / "cgroup.subtree_control", "+memory +pids")
    kernel.write(kernel.group("system.slice") / "cgroup.subtree_control", "+memory +pids")
    scope = kernel.group("system.slice/run-r1.scope", procs=(501,))
    support = detect(kernel, tmp_path, scope)
    assert support.v2 is not None
    assert support.v2.own == scope
    assert support.controllers == ("memory",)
    assert support.labels()["cpu"]["state"] == "advisory"
    groups = enforce.create_groups(support, "kernel-k4", cpus=1, memory=GiB, busy_cpus={})
    assert groups.dirs() == [str(scope / "labrig" / "kernel-k4")]
    assert kernel.where(501) == scope / "labrig-server"
    labels = enforce.applied_labels(support, groups, cpus=1, memory=GiB)
    assert labels["cpu"] == {"state": "advisory", "mechanism": enforce.ADVISORY_CPU}
    assert labels["memory"]["mechanism"] == "cgroup v2 memory.max 1Gi"


def test_a_hierarchy_labrig_may_not_write_is_reported_with_why(tmp_path: Path) -> None:
    kernel = FakeKernel(tmp_path / "cgroup", controllers="io pids")
    support = detect(kernel, tmp_path, kernel.root)
    assert support.v2 is None
    assert support.controllers == ()
    assert "no cpuset, cpu, memory controller is delegated" in support.v2_reason
    assert support.labels()["memory"] == {"state": "enforced", "mechanism": enforce.WATCHDOG}
    assert describe_cgroups(support).startswith("v2 (not usable here: no cpuset, cpu, memory")
    groups = enforce.create_groups(support, "kernel-k5", cpus=1, memory=GiB, busy_cpus={})
    assert groups.paths == {}
    elsewhere = enforce.detect(kernel.root, proc_cgroup=tmp_path / "missing", fs=kernel).v2_reason
    assert "not under" in elsewhere


def test_when_the_hierarchy_refuses_the_fallbacks_hold_the_kernel_and_say_why(
    tmp_path: Path,
) -> None:
    """A group that keeps refusing (here: the processes cannot be moved out of it)."""

    class Stuck(FakeKernel):
        def _move(self, group: Path, pid: int) -> None:
            if group.name == "labrig-server":
                return  # the process stays where it is, as a kernel thread would
            super()._move(group, pid)

    kernel = Stuck(tmp_path / "cgroup", true_root=False)
    kernel.write(kernel.root / "cgroup.procs", "1")
    support = detect(kernel, tmp_path, kernel.root)
    groups = enforce.create_groups(support, "kernel-k6", cpus=1, memory=GiB, busy_cpus={})
    assert groups.paths == {}
    assert "Device or resource busy" in groups.unavailable
    labels = enforce.applied_labels(support, groups, cpus=1, memory=GiB)
    assert labels["memory"]["mechanism"].startswith(enforce.WATCHDOG + " (cgroup v2 refused: ")
    assert labels["cpu"]["state"] == "advisory"


def test_an_oom_kill_in_the_group_is_seen_and_only_labrig_groups_are_removed(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    support = detect(kernel, tmp_path, kernel.root)
    groups = enforce.create_groups(support, "kernel-k7", cpus=None, memory=GiB, busy_cpus={})
    assert not groups.memory_stopped()
    events = Path(groups.paths["memory"]) / "memory.events"
    events.write_text(events.read_text().replace("oom_kill 0", "oom_kill 1"))
    assert groups.memory_stopped()
    other = kernel.group("not-labrig")
    enforce.remove_group(other, kernel.root, kernel)
    assert other.is_dir()
    enforce.remove_group(kernel.root / "labrig" / "kernel-k7", tmp_path / "elsewhere", kernel)
    assert Path(groups.paths["memory"]).is_dir()  # outside the given root: not touched
    groups.remove()
    assert not Path(groups.paths["memory"]).exists()


def test_use_cgroups_off_means_none(kernel: FakeKernel, tmp_path: Path) -> None:
    proc = kernel.proc_cgroup(tmp_path, kernel.root)
    support = enforce.detect(kernel.root, use_cgroups=False, proc_cgroup=proc, fs=kernel)
    assert support.cgroup_version == "none"
    assert support.labels()["cpu"]["state"] == "advisory"
