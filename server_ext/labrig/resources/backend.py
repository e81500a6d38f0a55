"""Where a notebook's kernel gets its resources from: this machine, or a Kubernetes pod.

``LabrigApp.kernel_backend`` names one ``KernelBackend``. It says which kernel provisioner starts
kernels (the server makes it the default one), why a notebook's kernel is waiting, what the
kernel uses now, and how to stop what runs for a kernel. Everything a user sees (the request,
the panel, the stop messages) lives above it, in the ``ResourceService``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import signal
import threading
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..backend import Backend
from . import enforce

if TYPE_CHECKING:
    from .service import ResourceService


@dataclass(frozen=True)
class KernelWait:
    """Why a notebook's kernel is not running yet: one line for the panel."""

    kernel_id: str
    reason: str
    #: When the kernel started waiting (seconds since the epoch).
    since: float
    #: Seconds it may still wait before its start is given up (None: no limit).
    gives_up_in: float | None = None

    def json(self) -> dict[str, Any]:
        return {
            "kernel_id": self.kernel_id,
            "reason": self.reason,
            "waiting_for": round(time.time() - self.since, 1),
            "gives_up_in": None if self.gives_up_in is None else round(self.gives_up_in, 1),
        }


class KernelBackend(Backend):
    """Starts kernels with the resources requested for their notebook."""

    @property
    @abstractmethod
    def provisioner_name(self) -> str:
        """The ``jupyter_client.kernel_provisioners`` entry that starts kernels here."""

    @abstractmethod
    def waiting(self, notebook_path: str) -> KernelWait | None:
        """Why the notebook's kernel is waiting to run, or None when it is not waiting."""

    @abstractmethod
    def usage(self, service: ResourceService, notebook_path: str) -> dict[str, Any]:
        """One sample of what the notebook's kernels use, against their limits (the shape of
        ``labrig.resources.usage.usage``)."""

    @abstractmethod
    def stop(self, kernel_id: str) -> None:
        """Stop what runs for the kernel (its process, its pod), whoever started it; idempotent."""

    def close(self) -> None:
        """Release what the backend holds for the server (called when the server stops)."""


@functools.cache
def nvml_installed() -> bool:
    """Whether ``pynvml`` can be imported; looked for once (each look searches every
    ``sys.path`` entry), as GPU discovery runs once: the status the panel polls reports it."""
    return importlib.util.find_spec("pynvml") is not None


def describe_cgroups(support: enforce.HostSupport) -> str:
    """``v1 (labrig creates cpuset, cpu, memory groups)``, ``v2 (labrig creates ... under
    /sys/fs/cgroup/labrig)``, ``v2 (not usable here: why; ...)``, ``none``."""
    if support.v2 is not None:
        controllers = ", ".join(support.v2.controllers)
        return f"v2 (labrig creates groups with {controllers} under {support.v2.base})"
    if support.v1_bases:
        controllers = ", ".join(sorted(support.v1_bases))
        return f"{support.cgroup_version} (labrig creates {controllers} groups)"
    if support.cgroup_version == "v2":
        return (
            f"v2 (not usable here: {support.v2_reason}; affinity and the memory watchdog instead)"
        )
    return f"{support.cgroup_version} (read-only: affinity and the memory watchdog instead)"


class LocalKernelBackend(KernelBackend):
    """Kernels as local processes; limits through cgroups where the host allows them."""

    kind = "local"

    @property
    def provisioner_name(self) -> str:
        return "labrig-local-provisioner"

    def capabilities(self) -> dict[str, str]:
        return {
            "kernels.cgroups": describe_cgroups(enforce.detect()),
            "kernels.gpu_discovery": "nvml" if nvml_installed() else "configured inventory only",
        }

    def waiting(self, notebook_path: str) -> KernelWait | None:
        return None  # a local kernel starts at once or fails with its reason

    def usage(self, service: ResourceService, notebook_path: str) -> dict[str, Any]:
        from .usage import usage

        sample = usage(service, notebook_path)
        sample["waiting"] = None
        return sample

    def stop(self, kernel_id: str) -> None:
        """SIGTERM the kernel's process group, found through the ledger's holder."""
        from .runtime import current

        holder = f"kernel:{kernel_id}"
        for row in current().holders():
            if row["holder"] == holder and row["alive"] and row["pid"]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(os.getpgid(row["pid"]), signal.SIGTERM)


_lock = threading.Lock()
_current: KernelBackend | None = None
#: What ``set_current`` was given: the server's own backend (None in the CLI, a job's rank).
_chosen: KernelBackend | None = None


def set_current(backend: KernelBackend | None) -> None:
    """The kernel backend of this process (the server sets its own when it starts)."""
    global _current, _chosen
    with _lock:
        _current = _chosen = backend


def chosen() -> KernelBackend | None:
    """The backend this process's server chose, without building one where none was: a job
    rank or a script starting kernels keeps the provisioner its kernelspec names."""
    with _lock:
        return _chosen


def current() -> KernelBackend:
    """The kernel backend of this process; outside a server, built like the CLI's."""
    global _current
    with _lock:
        if _current is None:
            from ..services import load_services

            _current = load_services().kernel_backend
        return _current
