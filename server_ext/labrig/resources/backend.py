"""Where a notebook's kernel gets its resources from: this machine, or a Kubernetes pod."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ..backend import Backend

CGROUP_ROOT = Path("/sys/fs/cgroup")


class KernelBackend(Backend):
    """Starts kernels with the resources requested for their notebook."""


def detect_cgroups(root: Path = CGROUP_ROOT) -> str:
    """Which cgroup hierarchy this host has and whether labrig may create groups in it."""
    if (root / "cgroup.controllers").exists():
        version, probe = "v2", root
    elif (root / "memory").is_dir() or (root / "cpu").is_dir():
        version, probe = "v1", root / "memory"
    else:
        return "none"
    return f"{version} ({'labrig can create groups' if _can_create_group(probe) else 'read-only'})"


def _can_create_group(parent: Path) -> bool:
    """Try it: access(2) says yes to root even where the kernel refuses new groups."""
    probe = parent / f"labrig-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    probe.rmdir()
    return True


class LocalKernelBackend(KernelBackend):
    """Kernels as local processes; limits through cgroups where the host allows them."""

    kind = "local"

    def capabilities(self) -> dict[str, str]:
        nvml = importlib.util.find_spec("pynvml") is not None
        return {
            "kernels.cgroups": detect_cgroups(),
            "kernels.gpu_discovery": "nvml" if nvml else "configured inventory only",
        }
