"""cgroup v2 (the unified hierarchy): where labrig may make groups, and making them ready.

labrig nests its groups in the server's own group (``0::/path`` in ``/proc/self/cgroup``), so
they stay inside whatever limits the server runs under. That group is writable when it is the
root of the hierarchy (as root, no systemd), a container's cgroup namespace root, or a delegated
subtree (``systemd-run --scope -p Delegate=yes``); which of these holds is found by trying.

The kernel's rules this follows (``Documentation/admin-guide/cgroup-v2.rst``):

- a group may enable for its children only the controllers its parent enabled for it (those in
  its ``cgroup.controllers``), through its ``cgroup.subtree_control``;
- no internal processes: a group other than the true root that holds processes cannot enable
  domain controllers (memory, io) for children (EBUSY), and no process may join a group that
  enabled them. When the server's group holds processes, they move into a leaf beside
  labrig's groups, ``labrig-server``, first. A server already in that leaf nests in its parent;
- a group is removed (``rmdir``) once it holds no processes and no child groups.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

#: The controllers labrig writes limits for (cpuset.cpus, cpu.max, memory.max). Requests carry
#: no pids or io limit, so pids.max and io.max are left as the parent set them.
CONTROLLERS = ("cpuset", "cpu", "memory")
BASE = "labrig"
LEAF = "labrig-server"
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


class CgroupFs:
    """The cgroup filesystem's operations; the unit tests' fake kernel adds the kernel's rules."""

    def read(self, path: Path) -> str:
        return path.read_text()

    def write(self, path: Path, value: str) -> None:
        path.write_text(value)

    def mkdir(self, path: Path) -> None:
        with contextlib.suppress(FileExistsError):  # another kernel's start made it first
            path.mkdir()

    def rmdir(self, path: Path) -> None:
        path.rmdir()

    def procs(self, group: Path) -> list[int]:
        return [int(pid) for pid in self.read(group / "cgroup.procs").split()]


REAL = CgroupFs()


@dataclass(frozen=True)
class Site:
    """The group labrig's groups nest in, and the controllers labrig may enable below it."""

    root: Path  # the cgroup2 mount
    own: Path
    controllers: tuple[str, ...]
    fs: CgroupFs = field(default=REAL, compare=False)

    @property
    def base(self) -> Path:
        """``<own>/labrig``: no processes of its own, so it may enable every controller."""
        return self.own / BASE

    @property
    def leaf(self) -> Path:
        return self.own / LEAF


def own_group(root: Path, proc_cgroup: Path = PROC_SELF_CGROUP) -> Path | None:
    """The v2 group this process is in, as a directory under the mount ``root``."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return root / line[3:].strip().lstrip("/")
    return None


def _writable(group: Path, fs: CgroupFs) -> bool:
    probe = group / f"labrig-probe-{os.getpid()}"
    try:
        fs.mkdir(probe)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        fs.rmdir(probe)
    return True


def find_site(
    root: Path,
    proc_cgroup: Path = PROC_SELF_CGROUP,
    fs: CgroupFs = REAL,
    wanted: tuple[str, ...] = CONTROLLERS,
) -> tuple[Site | None, str]:
    """Where labrig may make v2 groups (by trying), or None and why not."""
    own = own_group(root, proc_cgroup)
    if own is None or not own.is_dir():
        return None, f"this process's cgroup is not under {root}"
    if own.name == LEAF:
        own = own.parent  # the server moved itself into labrig's leaf on an earlier start
    try:
        available = fs.read(own / "cgroup.controllers").split()
    except OSError as err:
        return None, f"cannot read {own / 'cgroup.controllers'}: {err.strerror}"
    controllers = tuple(c for c in wanted if c in available)
    if not controllers:
        return None, f"no {', '.join(wanted)} controller is delegated to {own}"
    if not _writable(own, fs):
        return None, f"{own} is not writable by this user (no delegated subtree)"
    return Site(root, own, controllers, fs), ""


def enable(group: Path, controllers: tuple[str, ...], fs: CgroupFs) -> None:
    """Enable ``controllers`` for ``group``'s children (those not already enabled)."""
    enabled = fs.read(group / "cgroup.subtree_control").split()
    missing = [c for c in controllers if c not in enabled]
    if missing:
        fs.write(group / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))


def evacuate(site: Site) -> None:
    """Move every process of the site's group (the server among them) into labrig's leaf."""
    site.fs.mkdir(site.leaf)
    for pid in site.fs.procs(site.own):
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
            site.fs.write(site.leaf / "cgroup.procs", str(pid))


def prepare(site: Site) -> Path:
    """labrig's base group, with the site's controllers enabled down to it (idempotent)."""
    for attempt in range(3):
        try:
            enable(site.own, site.controllers, site.fs)
            break
        except OSError as err:
            # EBUSY: the group holds processes (not the true root); a process forked meanwhile
            # makes the next try find one more to move.
            if err.errno != errno.EBUSY or attempt == 2:
                raise
            evacuate(site)
    site.fs.mkdir(site.base)
    enable(site.base, site.controllers, site.fs)
    return site.base


def straggler_home(group: Path) -> Path:
    """Where processes left in a labrig group go before it is removed: the group the server
    nests labrig's groups in, or its leaf when that group may not hold processes."""
    own = group.parent.parent
    return own / LEAF if (own / LEAF).is_dir() else own


def empty_and_remove(group: Path, home: Path, fs: CgroupFs) -> None:
    """Remove ``group`` and the groups below it, moving their processes to ``home`` first."""
    for child in [p for p in group.iterdir() if p.is_dir()]:
        empty_and_remove(child, home, fs)
    with contextlib.suppress(OSError):
        for pid in fs.procs(group):
            with contextlib.suppress(OSError):
                fs.write(home / "cgroup.procs", str(pid))
    with contextlib.suppress(OSError):
        fs.rmdir(group)


def oom_kills(group: Path, fs: CgroupFs = REAL) -> int:
    """How often the kernel's OOM killer acted in ``group`` (``memory.events``)."""
    try:
        text = fs.read(group / "memory.events")
    except OSError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0


def binary_quantity(value: int) -> str:
    """``2Gi``, ``512Mi`` where exact, else bytes: how memory.max reads in a label."""
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return str(value)
