"""What a container sees of itself besides its volumes: its own cgroup at ``/sys/fs/cgroup``
and its declared ports.

- cgroup: a container runtime mounts the container's own cgroup (v2) at ``/sys/fs/cgroup``.
  Processes here are not in per-container cgroups, so the kubelet keeps a cgroup v2 directory
  per container and writes the kernel's accounting into it from the container's process tree
  every ``interval``: ``memory.current`` (resident bytes), ``memory.stat`` (``anon``, no file
  cache), ``memory.max`` (the limit, or ``max``), ``cpu.stat`` (``usage_usec`` = user + system
  time of the tree), ``cgroup.controllers``. ``/sys/fs/cgroup`` in the container's command,
  args and env is rewritten to that directory, as a volume's mountPath is.
- ports: every pod has 127.0.0.1 here, so each declared ``containerPort`` gets a free
  loopback port of its own; env variables named ``*_PORT`` whose value is that port number are
  rewritten to it, and the pod proxy subresource dials it (``Store.pod_ports``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..store import Store
from .metrics import cpu_seconds
from .pod_env import free_port
from .pod_runs import ContainerRun, PodRun
from .processes import rss

CGROUP_MOUNT = "/sys/fs/cgroup"


def _write(directory: Path, name: str, text: str) -> None:
    """Replace a file whole, so a reader never sees half of it."""
    temporary = directory / f".{name}.tmp"
    temporary.write_text(text)
    os.replace(temporary, directory / name)


def write_cgroup(directory: Path, memory: int, cpu: float, limit: int | None) -> None:
    usec = round(cpu * 1e6)
    _write(directory, "memory.current", f"{memory}\n")
    _write(directory, "memory.stat", f"anon {memory}\nfile 0\nactive_file 0\ninactive_file 0\n")
    _write(directory, "memory.max", f"{limit if limit else 'max'}\n")
    _write(directory, "cpu.stat", f"usage_usec {usec}\nuser_usec {usec}\nsystem_usec 0\n")


class CgroupViews:
    """Each container's cgroup directory, kept current while it runs."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._due = 0.0

    @staticmethod
    def directory(run: PodRun, container: str) -> Path:
        return run.dir / "cgroup" / container

    def prepare(self, run: PodRun, c: ContainerRun) -> tuple[str, str]:
        """The container's cgroup before its process starts (nothing used yet); the mount pair
        that puts it at ``/sys/fs/cgroup``."""
        directory = self.directory(run, c.name)
        directory.mkdir(parents=True, exist_ok=True)
        _write(directory, "cgroup.controllers", "cpu memory pids\n")
        write_cgroup(directory, 0, 0.0, c.memory_limit)
        return CGROUP_MOUNT, str(directory)

    def sync(self, runs: Iterable[PodRun]) -> None:
        if time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self.interval
        for run in runs:
            for c in run.containers:
                if c.running and c.proc is not None:
                    directory = self.directory(run, c.name)
                    write_cgroup(directory, rss(c.proc), cpu_seconds(c.proc), c.memory_limit)


def map_ports(
    store: Store, run: PodRun, container: dict[str, Any], env: dict[str, str], taken: set[int]
) -> None:
    """Give the container's declared ports loopback ports of their own (see the module)."""
    for declared in container.get("ports") or []:
        number = int(declared["containerPort"])
        key = (run.namespace, run.name, number)
        if key not in store.pod_ports:
            store.pod_ports[key] = free_port(taken)
        for name, value in env.items():
            if name.endswith("_PORT") and value == str(number):
                env[name] = str(store.pod_ports[key])


def forget_ports(store: Store, run: PodRun) -> None:
    for key in [k for k in store.pod_ports if k[:2] == (run.namespace, run.name)]:
        del store.pod_ports[key]
