"""How this host can hold a kernel to its request, and the cgroups (v1 or v2) that do it.

Each dimension is labelled honestly:

- ``enforced``: the operating system holds the process to the limit (a cgroup), or labrig stops
  the kernel when it crosses it (the memory watchdog);
- ``advisory``: the kernel is started inside the limit (CPU affinity, thread counts,
  ``CUDA_VISIBLE_DEVICES``, a scratch quota that is measured) but code in it could step outside.

Groups are created below the server's own group (``<own>/labrig/<name>``), in each v1
hierarchy or in the v2 one (see ``cgroup_v2`` for its rules), so they nest inside whatever limits
the server itself runs under.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import cgroup_v2
from .cgroup_v2 import PROC_SELF_CGROUP, REAL, CgroupFs

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def _own_group(controller: str, proc_cgroup: Path = PROC_SELF_CGROUP) -> str:
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
    v2: cgroup_v2.Site | None = None  # where labrig makes v2 groups, when it may
    v2_reason: str = ""  # why it may not

    @property
    def controllers(self) -> tuple[str, ...]:
        """The controllers labrig makes groups with here."""
        if self.v2 is not None:
            return self.v2.controllers
        return tuple(sorted(self.v1_bases))

    @property
    def cpuset(self) -> bool:
        return "cpuset" in self.controllers

    @property
    def memory(self) -> bool:
        return "memory" in self.controllers

    def labels(self, *, watchdog: bool = True) -> dict[str, dict[str, str]]:
        """{dimension: {state, mechanism}} for kernels started on this host."""
        files = (("cpuset", "cpuset.cpus"), ("cpu", "cpu.max"))
        cpu_files = [name for c, name in files if c in self.controllers]
        if self.v2 is not None and cpu_files:
            cpu = {"state": "enforced", "mechanism": "cgroup v2 " + " + ".join(cpu_files)}
        elif self.cpuset:
            cpu = {
                "state": "enforced",
                "mechanism": "cgroup v1 cpuset"
                + (" + cpu quota" if "cpu" in self.v1_bases else ""),
            }
        else:
            cpu = {"state": "advisory", "mechanism": ADVISORY_CPU}
        if self.memory:
            mechanism = "cgroup v2 memory.max" if self.v2 else "cgroup v1 memory limit"
            memory = {"state": "enforced", "mechanism": mechanism}
        elif watchdog:
            memory = {"state": "enforced", "mechanism": WATCHDOG}
        else:
            memory = {"state": "advisory", "mechanism": "none"}
        return {
            "cpu": cpu,
            "memory": memory,
            "gpu": {"state": "advisory", "mechanism": "CUDA_VISIBLE_DEVICES by UUID"},
            "disk": {"state": "advisory", "mechanism": "scratch usage measured against quota"},
        }


ADVISORY_CPU = "CPU affinity + OMP/MKL/torch thread counts"
WATCHDOG = "watchdog on the process tree (0.5 s)"
_DETECTED: HostSupport | None = None


def detect(
    root: Path = CGROUP_ROOT,
    *,
    use_cgroups: bool = True,
    proc_cgroup: Path = PROC_SELF_CGROUP,
    fs: CgroupFs = REAL,
) -> HostSupport:
    """Probe (by trying) where labrig may create groups, in v1 hierarchies or the v2 one."""
    global _DETECTED
    default = root == CGROUP_ROOT and proc_cgroup == PROC_SELF_CGROUP
    if default and use_cgroups and _DETECTED is not None:
        return _DETECTED
    if not use_cgroups:
        return HostSupport("none")
    if (root / "cgroup.controllers").exists():
        site, reason = cgroup_v2.find_site(root, proc_cgroup, fs)
        support = HostSupport("v2", v2=site, v2_reason=reason)
    else:
        support = _detect_v1(root, proc_cgroup)
    if default:
        _DETECTED = support
    return support


def _detect_v1(root: Path, proc_cgroup: Path) -> HostSupport:
    bases: dict[str, Path] = {}
    for controller in ("cpuset", "cpu", "memory"):
        mount = root / controller
        if not mount.is_dir():
            continue
        own = mount / _own_group(controller, proc_cgroup).lstrip("/")
        if _probe(own):
            bases[controller] = own / "labrig"
    return HostSupport("v1" if bases or (root / "memory").is_dir() else "none", bases)


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
    version: str = "v1"
    cpu_max: str = ""  # what was written to a v2 group's cpu.max
    unavailable: str = ""  # why no v2 group could be made (the fallbacks hold the kernel)
    root: Path = CGROUP_ROOT
    fs: CgroupFs = REAL

    def dirs(self) -> list[str]:
        """Each group once (in v2 one group carries every controller)."""
        return list(dict.fromkeys(self.paths.values()))

    def remove(self) -> None:
        for path in self.dirs():
            remove_group(Path(path), self.root, self.fs)

    def memory_stopped(self) -> bool:
        """Whether the kernel OOM killer acted in this group (the limit was hit)."""
        group = self.paths.get("memory")
        if not group:
            return False
        if self.version == "v2":
            return cgroup_v2.oom_kills(Path(group), self.fs) > 0
        return oom_kills(Path(group)) > 0


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


def remove_group(group: Path, root: Path = CGROUP_ROOT, fs: CgroupFs = REAL) -> None:
    """Move stragglers out (to the server's group or labrig's leaf), then remove the group."""
    if group.parent.name != "labrig" or not group.is_relative_to(root):
        return  # only ever a group labrig made
    if not group.is_dir():
        return
    cgroup_v2.empty_and_remove(group, cgroup_v2.straggler_home(group), fs)


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
    if support.v2 is not None:
        return _create_v2_group(support.v2, _safe(name), cpus, memory, busy_cpus)
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


def _create_v2_group(
    site: cgroup_v2.Site,
    name: str,
    cpus: float | None,
    memory: int | None,
    busy_cpus: dict[int, int],
) -> KernelGroups:
    """One v2 group (``<own>/labrig/<name>``) with cpuset.cpus, cpu.max and memory.max."""
    groups = KernelGroups(version="v2", root=site.root, fs=site.fs)
    limits_cpu = cpus is not None and bool({"cpuset", "cpu"} & set(site.controllers))
    limits_memory = memory is not None and "memory" in site.controllers
    if not (limits_cpu or limits_memory):
        return groups
    try:
        base = cgroup_v2.prepare(site)
    except OSError as err:
        # The hierarchy looked writable but would not take labrig's groups (a threaded
        # subtree, processes that keep arriving): the fallbacks hold the kernel, and say why.
        groups.unavailable = f"{site.own}: {err.strerror or err}"
        return groups
    group = base / name
    fs = site.fs
    try:
        fs.mkdir(group)
        if cpus is not None and "cpuset" in site.controllers:
            available = parse_cpu_list(fs.read(base / "cpuset.cpus.effective"))
            groups.cpu_list = pick_cpus(available, math.ceil(cpus), busy_cpus)
            fs.write(group / "cpuset.cpus", ",".join(map(str, groups.cpu_list)))
            groups.paths["cpuset"] = str(group)
        if cpus is not None and "cpu" in site.controllers:
            groups.cpu_max = f"{max(1000, int(cpus * PERIOD_US))} {PERIOD_US}"
            fs.write(group / "cpu.max", groups.cpu_max)
            groups.paths["cpu"] = str(group)
        if memory is not None and "memory" in site.controllers:
            fs.write(group / "memory.max", str(memory))
            # No swapping past the limit, and the whole kernel goes when it is hit (as the
            # watchdog does), not one of its processes. Older kernels lack these files.
            with contextlib.suppress(OSError):
                fs.write(group / "memory.swap.max", "0")
            with contextlib.suppress(OSError):
                fs.write(group / "memory.oom.group", "1")
            groups.paths["memory"] = str(group)
    except OSError:
        cgroup_v2.empty_and_remove(group, cgroup_v2.straggler_home(group), fs)
        raise
    if not groups.paths:
        cgroup_v2.empty_and_remove(group, cgroup_v2.straggler_home(group), fs)
    return groups


def _cpu_label(groups: KernelGroups, cpus: float) -> dict[str, str]:
    if groups.version == "v2" and ("cpuset" in groups.paths or "cpu" in groups.paths):
        parts = []
        if "cpuset" in groups.paths:
            parts.append(f"cpuset.cpus {','.join(map(str, groups.cpu_list))}")
        if "cpu" in groups.paths:
            parts.append(f"cpu.max {groups.cpu_max}")
        return {"state": "enforced", "mechanism": "cgroup v2 " + " + ".join(parts)}
    if "cpuset" in groups.paths:
        mechanism = f"cgroup v1 cpuset {','.join(map(str, groups.cpu_list))}"
        if "cpu" in groups.paths:
            mechanism += f" + cpu quota {cpus:g}"
        return {"state": "enforced", "mechanism": mechanism}
    return {"state": "advisory", "mechanism": ADVISORY_CPU + _unavailable(groups)}


def _memory_label(groups: KernelGroups, memory: int) -> dict[str, str]:
    if "memory" not in groups.paths:
        return {"state": "enforced", "mechanism": WATCHDOG + _unavailable(groups)}
    if groups.version == "v2":
        return {
            "state": "enforced",
            "mechanism": f"cgroup v2 memory.max {cgroup_v2.binary_quantity(memory)}",
        }
    return {"state": "enforced", "mechanism": "cgroup v1 memory limit"}


def _unavailable(groups: KernelGroups) -> str:
    return f" (cgroup v2 refused: {groups.unavailable})" if groups.unavailable else ""


def applied_labels(
    support: HostSupport, groups: KernelGroups, *, cpus: float | None, memory: int | None
) -> dict[str, dict[str, str]]:
    """What actually holds this kernel (after create_groups), per dimension."""
    labels = support.labels()
    if cpus is None:
        labels["cpu"] = {"state": "advisory", "mechanism": "no CPU limit requested"}
    else:
        labels["cpu"] = _cpu_label(groups, cpus)
    if memory is None:
        labels["memory"] = {"state": "advisory", "mechanism": "no memory limit requested"}
    else:
        labels["memory"] = _memory_label(groups, memory)
    return labels


def describe(support: HostSupport) -> dict[str, Any]:
    return {
        "cgroups": support.cgroup_version,
        "controllers": list(support.controllers),
    }
