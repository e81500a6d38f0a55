"""The kernel backend decides where a labrig kernelspec's kernel runs, whichever of labrig's
provisioners the kernelspec names: a pod under the Kubernetes backend (through the API emulator
and the fake kubelet), a local process under the local one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.manager import start_new_async_kernel
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from k8s.cluster import FakeCluster
from k8s.emulator import ApiEmulator
from kernels_kit import NOTEBOOK, kernelspec, kubernetes_backend, stop_response_manager

from labrig.app import register_provisioners
from labrig.kernels.pod import LabrigKubernetesProvisioner
from labrig.kernels.provisioner import LabrigLocalProvisioner
from labrig.resources import backend as kernel_backends
from labrig.resources.backend import KernelBackend, LocalKernelBackend
from labrig.resources.service import ResourceService

pytestmark = pytest.mark.slow


async def run_in_kernel(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: KernelBackend,
    named: str,
    look: Callable[[], Any] = lambda: None,
) -> tuple[Any, str, Any]:
    """Start the kernelspec naming ``named`` with ``backend`` as the server's; the kernel's
    provisioner, the HOSTNAME and parent pid its code sees (a pod's name in a pod), and what
    ``look`` saw while the kernel ran."""
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    register_provisioners(KernelProvisionerFactory.instance())
    kernel_backends.set_current(backend)
    try:
        manager, client = await start_new_async_kernel(
            kernel_name=kernelspec(tmp_path, named),
            env={**os.environ, "LABRIG_NOTEBOOK_PATH": NOTEBOOK},
            startup_timeout=90,
        )
        try:
            out: list[str] = []
            reply = await client.execute_interactive(
                "import os; print(os.environ.get('HOSTNAME', 'none'), os.getppid())",
                timeout=60,
                output_hook=lambda m: out.append(m["content"].get("text", "")),
            )
            assert reply["content"]["status"] == "ok", reply
            return manager.provisioner, "".join(out).strip(), look()
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
    finally:
        kernel_backends.set_current(None)


async def test_a_local_provisioner_kernelspec_starts_a_pod_under_the_kubernetes_backend(
    resources: ResourceService,
    emulated_cluster: tuple[ApiEmulator, FakeCluster],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, _ = emulated_cluster
    backend = kubernetes_backend(emu, tmp_path)
    try:
        provisioner, host, pods = await run_in_kernel(
            tmp_path,
            monkeypatch,
            backend,
            "labrig-local-provisioner",
            lambda: list(emu.store.select("pods", "ml")),
        )
    finally:
        stop_response_manager()
    assert isinstance(provisioner, LabrigKubernetesProvisioner)
    (pod,) = pods
    assert pod["metadata"]["labels"]["labrig.io/kernel-id"] == provisioner.kernel_id
    assert host.split()[0] == pod["metadata"]["name"]  # the code ran in the pod


async def test_a_kubernetes_provisioner_kernelspec_runs_locally_under_the_local_backend(
    resources: ResourceService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provisioner, host, _ = await run_in_kernel(
        tmp_path, monkeypatch, LocalKernelBackend(), "labrig-kubernetes-provisioner"
    )
    assert type(provisioner) is LabrigLocalProvisioner
    # A local kernel: a child of this process (through labrig's launch wrapper or not).
    parent = int(host.split()[1])
    assert parent == os.getpid() or psutil.Process(parent).ppid() == os.getpid()
