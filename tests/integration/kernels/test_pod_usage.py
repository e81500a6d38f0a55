"""Live usage of a kernel in a pod, as the panel polls it: from inside the pod (its cgroup, and
NVML when the image has it) through the API server's pod proxy; from the metrics API when the
reporter cannot be reached; and saying so, with no figures, when neither answers. Through the
API emulator and the fake kubelet, which runs the pod's launcher and reporter as processes of
this host. No GPU here: NVML is a fake ``pynvml`` module put on the pod's PYTHONPATH."""

from __future__ import annotations

import asyncio
import os
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import AsyncKernelManager, start_new_async_kernel
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from k8s.cluster import FakeCluster
from k8s.emulator import ApiEmulator
from kernels_kit import NOTEBOOK, kernelspec, kubernetes_backend, stop_response_manager

from labrig.app import register_provisioners
from labrig.k8s.kernel_backend import KubernetesKernelBackend
from labrig.resources import backend as kernel_backends
from labrig.resources.service import ResourceService

pytestmark = pytest.mark.slow

Cluster = tuple[ApiEmulator, FakeCluster]
FAKE_NVML = '''
"""NVML as nvidia-ml-py's pynvml shows one GPU to a container."""
from types import SimpleNamespace

def nvmlInit(): pass
def nvmlDeviceGetCount(): return 1
def nvmlDeviceGetHandleByIndex(index): return index
def nvmlDeviceGetUUID(handle): return "GPU-5e1f-fake"
def nvmlDeviceGetName(handle): return b"NVIDIA H100 80GB HBM3"
def nvmlDeviceGetMemoryInfo(handle):
    return SimpleNamespace(total=80 * 2**30, used=1234 * 2**20, free=0)
def nvmlDeviceGetUtilizationRates(handle): return SimpleNamespace(gpu=37, memory=5)
'''


WRITE_CHECKPOINT = (
    "import os, pathlib\n"
    "pathlib.Path(os.environ['LABRIG_SCRATCH'], 'ckpt.pt').write_bytes(os.urandom(64 * 2**20))\n"
)


@pytest.fixture
def pods(
    emulated_cluster: Cluster,
    resources: ResourceService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., KubernetesKernelBackend]]:
    """Makes the Kubernetes kernel backend current with the given settings."""
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    register_provisioners(KernelProvisionerFactory.instance())
    kernelspec(tmp_path, "labrig-kubernetes-provisioner")
    emu, _ = emulated_cluster

    def make(**settings: Any) -> KubernetesKernelBackend:
        backend = kubernetes_backend(emu, tmp_path, **settings)
        kernel_backends.set_current(backend)
        return backend

    yield make
    kernel_backends.set_current(None)
    stop_response_manager()


def with_fake_nvml(tmp_path: Path) -> list[dict[str, str]]:
    """Pod env entries that put the fake NVML first on the kernel image's path."""
    folder = tmp_path / "fake-nvml"
    folder.mkdir()
    (folder / "pynvml.py").write_text(textwrap.dedent(FAKE_NVML))
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    return [{"name": "PYTHONPATH", "value": path}]


async def start() -> tuple[AsyncKernelManager, Any]:
    env = {**os.environ, "LABRIG_NOTEBOOK_PATH": NOTEBOOK}
    return await start_new_async_kernel(
        kernel_name="labrig-labrig-kubernetes-provisioner", env=env, startup_timeout=90
    )


async def sample_until(
    backend: KubernetesKernelBackend, service: ResourceService, done: Callable[[Any], bool]
) -> dict[str, Any]:
    """Poll the usage as the panel does until ``done`` holds for a sample."""
    deadline = time.monotonic() + 60
    while True:
        sample = await asyncio.to_thread(backend.usage, service, NOTEBOOK)
        if done(sample):
            return sample
        assert time.monotonic() < deadline, sample
        await asyncio.sleep(0.3)


async def test_usage_comes_from_inside_the_pod(
    pods: Callable[..., KubernetesKernelBackend], resources: ResourceService, tmp_path: Path
) -> None:
    backend = pods(env=with_fake_nvml(tmp_path))
    resources.save(NOTEBOOK, {"cpus": 1, "memory": "2Gi", "disk": "1Gi"})
    manager, client = await start()
    try:
        before = await sample_until(
            backend, resources, lambda s: s["memory"]["used"] and s["cpu"]["used"] is not None
        )
        assert (
            "usage from the pod's cgroup (v2), read inside the pod"
            in (before["memory"]["mechanism"])
        )
        assert before["cpu"]["mechanism"] == before["memory"]["mechanism"]
        # The notebook allocates 400 MiB: the pod's cgroup, read inside the pod, sees it.
        reply = await client.execute_interactive("block = b'x' * (400 * 2**20)", timeout=60)
        assert reply["content"]["status"] == "ok"
        grown = before["memory"]["used"] + 350 * 2**20
        after = await sample_until(backend, resources, lambda s: s["memory"]["used"] > grown)
        assert after["memory"]["percent"] == round(100 * after["memory"]["used"] / 2**31, 1)
        assert after["gpus"] == [
            {
                "uuid": "GPU-5e1f-fake",
                "model": "NVIDIA H100 80GB HBM3",
                "memory_total": 80 * 2**30,
                "utilization": 37,
                "memory_used": 1234 * 2**20,
            }
        ]
        assert after["gpu"]["mechanism"].endswith("GPU usage from NVML inside the pod")
        # A checkpoint in the scratch directory (the pod's emptyDir) counts against its disk.
        reply = await client.execute_interactive(WRITE_CHECKPOINT, timeout=60)
        assert reply["content"]["status"] == "ok"
        written = await sample_until(
            backend, resources, lambda s: (s["disk"]["used"] or 0) >= 64 * 2**20
        )
        assert written["disk"]["limit"] == 2**30
        assert written["disk"]["percent"] == round(100 * written["disk"]["used"] / 2**30, 1)
        assert written["disk"]["mechanism"] == (
            "ephemeral-storage limit 1 GiB; usage of the scratch directory, measured inside the pod"
        )
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


async def test_the_metrics_api_answers_when_the_pod_cannot_then_nobody_does(
    pods: Callable[..., KubernetesKernelBackend],
    resources: ResourceService,
    emulated_cluster: Cluster,
) -> None:
    emu, _ = emulated_cluster
    backend = pods()
    resources.save(NOTEBOOK, {"cpus": 1, "memory": "2Gi"})
    manager, client = await start()
    try:
        inside = await sample_until(backend, resources, lambda s: s["memory"]["used"])
        assert "read inside the pod" in inside["memory"]["mechanism"]
        # The image has no NVML: GPUs are not listed, and the panel's tooltip says why.
        assert inside["gpus"] == []
        assert (
            "GPU usage not reported: NVML is not available in the kernel image"
            in (inside["gpu"]["mechanism"])
        )
        emu.deny("get", "pods/proxy")  # a Role without pods/proxy
        fallback = await sample_until(
            backend, resources, lambda s: "metrics API" in s["memory"]["mechanism"]
        )
        assert fallback["memory"]["used"] > 2**20
        assert fallback["cpu"]["used"] is not None
        mechanism = fallback["memory"]["mechanism"]
        assert "usage from the metrics API (metrics.k8s.io): the in-pod reporter did not" in (
            mechanism
        )
        assert "RBAC forbids labrig to get pods/proxy" in mechanism
        emu.uninstall("metrics.k8s.io", "v1beta1", "pods")  # no metrics-server either
        nothing = await asyncio.to_thread(backend.usage, resources, NOTEBOOK)
        assert nothing["running"] is True
        for dimension in ("cpu", "memory"):
            assert nothing[dimension]["used"] is None
            assert nothing[dimension]["percent"] is None
            assert (
                "usage not measured: the in-pod reporter did not answer"
                in (nothing[dimension]["mechanism"])
            )
        assert "metrics.k8s.io) did not either" in nothing["memory"]["mechanism"]
        assert nothing["memory"]["limit"] == 2 * 2**30
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
