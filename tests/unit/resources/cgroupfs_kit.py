"""A directory tree that behaves like a cgroup v2 mount, with the kernel's rules that labrig
relies on (checked against a real kernel by tests/integration/resources/test_cgroup_v2*.py):

- a new group gets ``cgroup.controllers`` = its parent's ``cgroup.subtree_control`` and the
  interface files of exactly those controllers (``cpu.max`` only where cpu is enabled);
- ``+c`` in ``cgroup.subtree_control`` needs ``c`` in the group's ``cgroup.controllers``
  (ENOENT), and no processes in the group unless it is the true root (EBUSY);
- a process may not join a group whose ``subtree_control`` enables controllers (EBUSY), except
  the true root; joining moves it out of the group it was in;
- ``rmdir`` of a group with processes or child groups is EBUSY.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from labrig.resources.cgroup_v2 import CgroupFs

INTERFACE_FILES = {
    "cpu": {"cpu.max": "max 100000", "cpu.weight": "100"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "memory": {
        "memory.max": "max",
        "memory.swap.max": "max",
        "memory.oom.group": "0",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
    },
    "pids": {"pids.max": "max"},
    "io": {"io.max": ""},
}


def _busy(path: Path, why: str) -> OSError:
    return OSError(errno.EBUSY, f"{os.strerror(errno.EBUSY)} ({why})", str(path))


class FakeKernel(CgroupFs):
    def __init__(
        self,
        root: Path,
        *,
        controllers: str = "cpuset cpu io memory pids",
        cpus: str = "0-3",
        true_root: bool = True,
    ) -> None:
        """``true_root=False`` plays a container's cgroup namespace root, which is bound by the
        no-internal-processes rule like any other group."""
        self.root = root
        self.true_root = true_root
        root.mkdir(parents=True)
        for name, value in {
            "cgroup.controllers": controllers,
            "cgroup.subtree_control": "",
            "cgroup.procs": "",
            "cpuset.cpus.effective": cpus,
        }.items():
            (root / name).write_text(value)
        self.writes: list[tuple[str, str]] = []

    # --- set-up helpers for tests ----------------------------------------------------------
    def group(self, relative: str, procs: tuple[int, ...] = ()) -> Path:
        path = self.root / relative
        self.mkdir(path)
        for pid in procs:
            self.write(path / "cgroup.procs", str(pid))
        return path

    def proc_cgroup(self, tmp: Path, group: Path) -> Path:
        """A /proc/self/cgroup naming ``group``."""
        file = tmp / "proc-self-cgroup"
        relative = group.relative_to(self.root).as_posix()
        file.write_text(f"0::/{'' if relative == '.' else relative}\n")
        return file

    def text(self, path: Path) -> str:
        return path.read_text().strip()

    # --- the kernel's side ------------------------------------------------------------------
    def mkdir(self, path: Path) -> None:
        if path.exists():
            return
        path.mkdir()
        enabled = self.read(path.parent / "cgroup.subtree_control").split()
        (path / "cgroup.procs").write_text("")
        (path / "cgroup.subtree_control").write_text("")
        self._grant(path, enabled)

    def _grant(self, group: Path, controllers: list[str]) -> None:
        (group / "cgroup.controllers").write_text(" ".join(controllers))
        if "cpuset" in controllers:
            inherited = self.read(group.parent / "cpuset.cpus.effective")
            (group / "cpuset.cpus.effective").write_text(inherited)
        for controller in controllers:
            for name, value in INTERFACE_FILES[controller].items():
                if not (group / name).exists():
                    (group / name).write_text(value)

    def rmdir(self, path: Path) -> None:
        if self.procs(path) or any(p.is_dir() for p in path.iterdir()):
            raise _busy(path, "group not empty")
        for file in path.iterdir():
            file.unlink()
        path.rmdir()

    def write(self, path: Path, value: str) -> None:
        self.writes.append((str(path.relative_to(self.root)), value))
        group = path.parent
        if path.name == "cgroup.subtree_control":
            self._enable(group, value)
        elif path.name == "cgroup.procs":
            self._move(group, int(value))
        elif not path.exists():
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        else:
            path.write_text(value)

    def _mixable(self, group: Path) -> bool:
        return group == self.root and self.true_root

    def _enable(self, group: Path, value: str) -> None:
        available = self.read(group / "cgroup.controllers").split()
        enabled = self.read(group / "cgroup.subtree_control").split()
        for token in value.split():
            if token[1:] not in available:
                raise OSError(errno.ENOENT, f"{token[1:]} is not available", str(group))
        if not self._mixable(group) and self.procs(group):
            raise _busy(group, "no internal processes")
        for token in value.split():
            if token.startswith("+") and token[1:] not in enabled:
                enabled.append(token[1:])
        (group / "cgroup.subtree_control").write_text(" ".join(enabled))
        for child in (p for p in group.iterdir() if p.is_dir()):
            self._grant(child, enabled)

    def _move(self, group: Path, pid: int) -> None:
        if not self._mixable(group) and self.read(group / "cgroup.subtree_control").split():
            raise _busy(group, "group enables controllers for children")
        for procs in self.root.rglob("cgroup.procs"):
            pids = procs.read_text().split()
            if str(pid) in pids:
                pids.remove(str(pid))
                procs.write_text(" ".join(pids))
        current = self.read(group / "cgroup.procs").split()
        (group / "cgroup.procs").write_text(" ".join([*current, str(pid)]))

    def where(self, pid: int) -> Path:
        for procs in self.root.rglob("cgroup.procs"):
            if str(pid) in procs.read_text().split():
                return procs.parent
        raise AssertionError(f"pid {pid} is in no group")
