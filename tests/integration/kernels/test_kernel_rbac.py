"""examples/kubernetes/rbac.yaml's labrig-kernels Role is exactly what the kernel backend needs:
with only its permissions a kernel waits (its reason read from events), starts, runs, is
sampled (inside the pod through the pod proxy, then from the metrics API once its reporter is
gone), restarted and shut down, its API token's Secret is created and deleted with its pod,
nothing is refused, and every rule is used."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from itertools import product
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_async_kernel
from kernels_kit import NOTEBOOK, Kernels

from labrig.k8s.kernel_backend import KubernetesKernelBackend
from labrig.resources.runtime import KernelApi

ROOT = Path(__file__).parents[3]
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
RESOURCES = {
    "": (
        "pods",
        "pods/log",
        "pods/proxy",
        "configmaps",
        "secrets",
        "services",
        "events",
        "nodes",
        "namespaces",
    ),
    "metrics.k8s.io": ("pods",),
}

pytestmark = pytest.mark.slow
#: The reporter is a child of the kernel's launcher (the kernel's own process in the pod).
KILL_REPORTER = (
    "import psutil\n"
    "for p in psutil.Process().children():\n"
    "    if 'labrig.kernels.pod_usage' in p.cmdline(): p.kill(); p.wait(10)\n"
)


async def sampled_by_metrics(backend: KubernetesKernelBackend, kernels: Kernels) -> None:
    """Once the pod's reporter is gone, usage comes from the metrics API."""
    for _ in range(100):
        usage = await asyncio.to_thread(backend.usage, kernels.service, NOTEBOOK)
        if "from the metrics API" in usage["memory"]["mechanism"] and usage["memory"]["used"]:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(usage)


def _granted() -> set[tuple[str, str, str]]:
    """What the labrig-kernels Role grants, read as the job suite's RBAC test reads its roles."""
    path = ROOT / "tests" / "integration" / "jobs" / "test_rbac.py"
    spec = importlib.util.spec_from_file_location("jobs_test_rbac", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: set[tuple[str, str, str]] = module.granted(("labrig-kernels",))
    return found


@pytest.mark.parametrize("kernels", ["kubernetes"], indirect=True)
async def test_the_kernel_role_is_all_the_kernel_backend_uses(
    kernels: Kernels, kernel_api: KernelApi
) -> None:
    """With a server URL for pods, so each pod's token Secret is created, made the pod's and
    deleted."""
    assert kernels.emu is not None
    assert isinstance(kernels.backend, KubernetesKernelBackend)
    emu, backend = kernels.emu, kernels.backend
    allowed = _granted()
    for group, resources in RESOURCES.items():
        for verb, resource in product(VERBS, resources):
            if (verb, resource, group) not in allowed:
                emu.deny(verb, resource, group)
    env = {**os.environ, "LABRIG_NOTEBOOK_PATH": NOTEBOOK}
    manager, client = await start_new_async_kernel(
        kernel_name=kernels.kernel_name, env=env, startup_timeout=90
    )
    try:
        reply = await client.execute_interactive("print(1 + 1)", timeout=60)
        assert reply["content"]["status"] == "ok"
        usage = await asyncio.to_thread(backend.usage, kernels.service, NOTEBOOK)
        assert usage["running"] is True
        assert "read inside the pod" in usage["memory"]["mechanism"], usage
        reply = await client.execute_interactive(KILL_REPORTER, timeout=60)
        assert reply["content"]["status"] == "ok"
        await sampled_by_metrics(backend, kernels)
        await manager.restart_kernel(now=True)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    await asyncio.to_thread(backend.stop, manager.kernel_id)
    refused = [r for r in emu.requests if r.status == 403]
    assert refused == [], refused
    used = {
        (r.verb, f"{r.resource}/{r.subresource}" if r.subresource else r.resource, r.group)
        for r in emu.requests
    }
    assert allowed - used == set(), f"granted but never used: {sorted(allowed - used)}"
