"""Where a notebook's kernel gets its resources from: this machine, or a Kubernetes pod."""

from __future__ import annotations

import importlib.util

from ..backend import Backend
from . import enforce


class KernelBackend(Backend):
    """Starts kernels with the resources requested for their notebook."""


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

    def capabilities(self) -> dict[str, str]:
        nvml = importlib.util.find_spec("pynvml") is not None
        return {
            "kernels.cgroups": describe_cgroups(enforce.detect()),
            "kernels.gpu_discovery": "nvml" if nvml else "configured inventory only",
        }
