"""How this host can hold a kernel to its request, and the cgroup v1 groups that do it.

Each dimension is labelled honestly:

- ``enforced``: the operating system holds the process to the limit (a cgroup), or labrig stops
  the kernel when it crosses it (the memory watchdog);
- ``advisory``: the kernel is started inside the limit (CPU affinity, thread counts,
  ``CUDA_VISIBLE_DEVICES``, a scratch quota that is measured) but code in it could step outside.

Groups are created below the server's own group in each v1 hierarchy (``<own>/labrig/<name>``),
so they nest inside whatever limits the server itself runs under.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def _own_group(controller: str, proc_cgroup: Path = Path("/proc/self/cgroup")) -> str:
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return "/"


def _probe(parent: Path) -> bool:
    probe = parent / f"labrig-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


@dataclass(frozen=True)
class HostSupport:
    """What this host lets labrig do, detected once per process."""

    cgroup_version: str  # "v1", "v2" or "none"
    v1_bases: dict[str, Path] = field(default_factory=dict)  # controller -> labrig's parent dir

    @property
    def cpuset(self) -> bool:
        return "cpuset" in self.v1_bases

    @property
    def memory(self) -> bool:
        return "memory" in self.v1_bases

    def labels(self, *, watchdog: bool = True) -> dict[str, dict[str, str]]:
        """{dimension: {state, mechanism}} for kernels started on this host."""
        if self.cpuset:
            cpu = {
                "state": "enforced",
                "mechanism": "cgroup v1 cpuset"
                + (" + cpu quota" if "cpu" in self.v1_bases else ""),
            }
        else:
            cpu = {"state": "advisory", "mechanism": "CPU affinity + OMP/MKL/torch thread counts"}
        if self.memory:
            memory = {"state": "enforced", "mechanism": "cgroup v1 memory limit"}
        elif watchdog:
            memory = {"state": "enforced", "mechanism": "watchdog on the process tree (0.5 s)"}
        else:
            memory = {"state": "advisory", "mechanism": "none"}
        return {
            "cpu": cpu,
            "memory": memory,
            "gpu": {"state": "advisory", "mechanism": "CUDA_VISIBLE_DEVICES by UUID"},
            "disk": {"state": "advisory", "mechanism": "scratch usage measured against quota"},
        }


_DETECTED: HostSupport | None = None


def detect(root: Path = CGROUP_ROOT, *, use_cgroups: bool = True) -> HostSupport:
    """Probe (by trying) which cgroup controllers labrig may create groups in."""
    global _DETECTED
    if root == CGROUP_ROOT and use_cgroups and _DETECTED is not None:
        return _DETECTED
    if not use_cgroups:
        return HostSupport("none")
    if (root / "cgroup.controllers").exists():
        # Pure v2: creating groups needs a delegated subtree; not done by this version.
        return HostSupport("v2")
    bases: dict[str, Path] = {}
    for controller in ("cpuset", "cpu", "memory"):
        mount = root / controller
        if not mount.is_dir():
            continue
        own = mount / _own_group(controller).lstrip("/")
        if _probe(own):
            bases[controller] = own / "labrig"
    support = HostSupport("v1" if bases or (root / "memory").is_dir() else "none", bases)
    if root == CGROUP_ROOT:
        _DETECTED = support
    return support


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _ensure_cpuset_parent(base: Path) -> None:
    """A v1 cpuset group takes no tasks until its cpus and mems are set; copy the parent's."""
    base.mkdir(exist_ok=True)
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not (base / name).read_text().strip():
            _write(base / name, (base.parent / name).read_text().strip())


def parse_cpu_list(text: str) -> list[int]:
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:200]


@dataclass
class KernelGroups:
    """The groups made for one holder: paths the launcher joins, and what they enforce."""

    paths: dict[str, str] = field(default_factory=dict)  # controller -> group dir
    cpu_list: list[int] = field(default_factory=list)

    def remove(self) -> None:
        for path in self.paths.values():
            remove_group(Path(path))

    def memory_stopped(self) -> bool:
        """Whether the kernel OOM killer acted in this group (the limit was hit)."""
        group = self.paths.get("memory")
        if not group:
            return False
        return oom_kills(Path(group)) > 0

    def memory_usage(self) -> int | None:
        group = self.paths.get("memory")
        if not group:
            return None
        try:
            return int((Path(group) / "memory.usage_in_bytes").read_text())
        except (OSError, ValueError):
            return None


def oom_kills(group: Path) -> int:
    try:
        text = (group / "memory.oom_control").read_text()
    except OSError:
        return 0
    match = re.search(r"^oom_kill (\d+)$", text, re.MULTILINE)
    if match:
        return int(match.group(1))
    try:
        return int((group / "memory.failcnt").read_text()) and 1
    except (OSError, ValueError):
        return 0


def remove_group(group: Path) -> None:
    """Move stragglers to the parent, then remove the (empty) group."""
    if group.parent.name != "labrig" or not group.is_relative_to(CGROUP_ROOT):
        return  # only ever a group labrig made
    if not group.is_dir():
        return
    with contextlib.suppress(OSError):
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                _write(group.parent.parent / "cgroup.procs", pid)
    with contextlib.suppress(OSError):
        group.rmdir()


def pick_cpus(available: list[int], count: int, busy: dict[int, int]) -> list[int]:
    """``count`` CPUs, the least used by other kernels first (ties: lowest number)."""
    ranked = sorted(available, key=lambda cpu: (busy.get(cpu, 0), cpu))
    return sorted(ranked[: max(1, min(count, len(ranked)))])


def allowed_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def create_groups(
    support: HostSupport,
    name: str,
    *,
    cpus: float | None,
    memory: int | None,
    busy_cpus: dict[int, int],
) -> KernelGroups:
    """Make the cgroups for one kernel; what cannot be made is left to the fallbacks."""
    groups = KernelGroups()
    name = _safe(name)
    try:
        if cpus is not None and support.cpuset:
            base = support.v1_bases["cpuset"]
            _ensure_cpuset_parent(base)
            available = parse_cpu_list((base / "cpuset.cpus").read_text())
            chosen = pick_cpus(available, math.ceil(cpus), busy_cpus)
            group = base / name
            group.mkdir(exist_ok=True)
            _write(group / "cpuset.mems", (base / "cpuset.mems").read_text().strip())
            _write(group / "cpuset.cpus", ",".join(map(str, chosen)))
            groups.paths["cpuset"] = str(group)
            groups.cpu_list = chosen
            if "cpu" in support.v1_bases and cpus != math.ceil(cpus):
                cpu_base = support.v1_bases["cpu"]
                cpu_base.mkdir(exist_ok=True)
                cpu_group = cpu_base / name
                cpu_group.mkdir(exist_ok=True)
                _write(cpu_group / "cpu.cfs_period_us", str(PERIOD_US))
                _write(cpu_group / "cpu.cfs_quota_us", str(max(1000, int(cpus * PERIOD_US))))
                groups.paths["cpu"] = str(cpu_group)
        if memory is not None and support.memory:
            base = support.v1_bases["memory"]
            base.mkdir(exist_ok=True)
            group = base / name
            group.mkdir(exist_ok=True)
            _write(group / "memory.limit_in_bytes", str(memory))
            with contextlib.suppress(OSError):
                _write(group / "memory.swappiness", "0")
            with contextlib.suppress(OSError):
                _write(group / "memory.memsw.limit_in_bytes", str(memory))
            groups.paths["memory"] = str(group)
    except OSError:
        groups.remove()
        raise
    return groups


def applied_labels(
    support: HostSupport, groups: KernelGroups, *, cpus: float | None, memory: int | None
) -> dict[str, dict[str, str]]:
    """What actually holds this kernel (after create_groups), per dimension."""
    labels = support.labels()
    if cpus is None:
        labels["cpu"] = {"state": "advisory", "mechanism": "no CPU limit requested"}
    elif "cpuset" in groups.paths:
        mechanism = f"cgroup v1 cpuset {','.join(map(str, groups.cpu_list))}"
        if "cpu" in groups.paths:
            mechanism += f" + cpu quota {cpus:g}"
        labels["cpu"] = {"state": "enforced", "mechanism": mechanism}
    else:
        labels["cpu"] = {
            "state": "advisory",
            "mechanism": "CPU affinity + OMP/MKL/torch thread counts",
        }
    if memory is None:
        labels["memory"] = {"state": "advisory", "mechanism": "no memory limit requested"}
    elif "memory" in groups.paths:
        labels["memory"] = {"state": "enforced", "mechanism": "cgroup v1 memory limit"}
    else:
        labels["memory"] = {
            "state": "enforced",
            "mechanism": "watchdog on the process tree (0.5 s)",
        }
    return labels


def describe(support: HostSupport) -> dict[str, Any]:
    return {
        "cgroups": support.cgroup_version,
        "controllers": sorted(support.v1_bases),
    }
