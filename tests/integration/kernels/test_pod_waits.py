"""A kernel whose pod waits says why (the panel shows the backend's reason) and gives up after
``KubernetesKernelBackend.start_timeout``, deleting its pod; a pod that ends mid-session
(evicted, OOM-killed) is the notebook's last stop. Through the API emulator and fake cluster."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import AsyncKernelManager, start_new_async_kernel
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from k8s.cluster import FakeCluster
from k8s.emulator import ApiEmulator, api_client_for
from kernels_kit import IMAGE, NOTEBOOK, kernelspec, kubernetes_backend, stop_response_manager
from kubernetes import client as k8s_client

from labrig.app import register_provisioners
from labrig.errors import LabrigError
from labrig.k8s.kernel_backend import KubernetesKernelBackend
from labrig.resources import backend as kernel_backends
from labrig.resources.service import ResourceService

pytestmark = pytest.mark.slow

Cluster = tuple[ApiEmulator, FakeCluster]


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


def notebook_pods(emu: ApiEmulator) -> list[dict[str, Any]]:
    return list(emu.store.select("pods", "ml"))


async def start() -> tuple[AsyncKernelManager, Any]:
    env = {**os.environ, "LABRIG_NOTEBOOK_PATH": NOTEBOOK}
    return await start_new_async_kernel(
        kernel_name="labrig-labrig-kubernetes-provisioner", env=env, startup_timeout=90
    )


async def reasons_until_given_up(backend: KubernetesKernelBackend) -> tuple[list[str], str]:
    """Start the notebook's kernel; every reason the backend gave while it waited, and the
    error its start was given up with."""
    seen: list[str] = []
    task = asyncio.ensure_future(start())
    while not task.done():
        wait = backend.waiting(NOTEBOOK)
        if wait is not None and (not seen or seen[-1] != wait.reason):
            seen.append(wait.reason)
        await asyncio.sleep(0.05)
    with pytest.raises(TimeoutError) as failed:
        task.result()
    return seen, str(failed.value)


def save(resources: ResourceService, **request: Any) -> None:
    resources.capacity_cpus = 64
    resources.gpu_inventory = [{"uuid": "GPU-1", "model": "A100"}]
    resources.save(NOTEBOOK, request)


async def test_no_node_fits_says_so_and_gives_up(
    pods: Callable[..., KubernetesKernelBackend],
    resources: ResourceService,
    emulated_cluster: Cluster,
) -> None:
    backend = pods(start_timeout=3.0)
    save(resources, cpus=1, gpus=1)
    began = time.monotonic()
    seen, error = await reasons_until_given_up(backend)
    assert time.monotonic() - began < 20
    waiting = "waiting for a node: 0/2 nodes are available: 2 Insufficient nvidia.com/gpu"
    assert any(reason.startswith(waiting) for reason in seen), seen
    assert "gave up after 3 s waiting for its pod (waiting for a node: 0/2" in error
    assert backend.waiting(NOTEBOOK) is None
    assert "gave up after 3 s" in resources.last_stop(NOTEBOOK)["message"]
    assert notebook_pods(emulated_cluster[0]) == []


async def test_an_image_being_pulled_then_unpullable_is_named(
    pods: Callable[..., KubernetesKernelBackend],
    emulated_cluster: Cluster,
) -> None:
    _, cluster = emulated_cluster
    cluster.slow_pulls[IMAGE] = 1.0
    backend = pods(start_timeout=60.0)
    manager, client = await asyncio.wait_for(_start_noting(backend, seen := []), 90)
    try:
        assert f"image {IMAGE} is being pulled" in seen, seen
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)

    cluster.unpullable_images.add(IMAGE)
    backend = pods(start_timeout=3.0)
    seen, error = await reasons_until_given_up(backend)
    unpullable = f"image {IMAGE} cannot be started (ImagePullBackOff): Back-off pulling image"
    assert any(r.startswith(unpullable) for r in seen), seen
    assert unpullable in error


async def _start_noting(
    backend: KubernetesKernelBackend, seen: list[str]
) -> tuple[AsyncKernelManager, Any]:
    task = asyncio.ensure_future(start())
    while not task.done():
        wait = backend.waiting(NOTEBOOK)
        if wait is not None and wait.reason not in seen:
            seen.append(wait.reason)
        await asyncio.sleep(0.05)
    return task.result()


async def test_a_quota_refusal_is_the_reason(
    pods: Callable[..., KubernetesKernelBackend],
    resources: ResourceService,
    emulated_cluster: Cluster,
    tmp_path: Path,
) -> None:
    emu, _ = emulated_cluster
    api = api_client_for(emu.kubeconfig(tmp_path / "admin-kubeconfig", namespace="ml"))
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "team-quota", "namespace": "ml"},
        "spec": {"hard": {"requests.cpu": "1", "requests.memory": "8Gi"}},
    }
    k8s_client.CoreV1Api(api).create_namespaced_resource_quota("ml", quota)
    api.close()
    backend = pods(start_timeout=3.0)
    save(resources, cpus=2, memory="1Gi")
    seen, error = await reasons_until_given_up(backend)
    assert any("exceeded quota: team-quota, requested: requests.cpu=2" in r for r in seen), seen
    assert "waiting for quota" in error
    assert notebook_pods(emu) == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            lambda cluster, pod: cluster.evict(pod),
            "kernel stopped: its pod was evicted (The node was low on resource: memory.)",
        ),
        (None, "kernel stopped: memory limit 200 MiB reached (its pod was OOM-killed)"),
    ],
    ids=["evicted", "oom-killed"],
)
async def test_a_pod_ended_mid_session_is_the_notebooks_last_stop(
    pods: Callable[..., KubernetesKernelBackend],
    resources: ResourceService,
    emulated_cluster: Cluster,
    fault: Callable[[FakeCluster, str], None] | None,
    message: str,
) -> None:
    emu, cluster = emulated_cluster
    pods()
    save(resources, cpus=1, memory="200Mi")
    manager, client = await start()
    try:
        (pod,) = notebook_pods(emu)
        if fault is not None:
            fault(cluster, pod["metadata"]["name"])
        else:
            client.execute("blob = bytearray(400 * 2**20)")
        deadline = time.monotonic() + 30
        while await manager.is_alive():
            assert time.monotonic() < deadline, "the kernel's pod did not end"
            await asyncio.sleep(0.2)
        assert resources.last_stop(NOTEBOOK)["message"] == message
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    assert notebook_pods(emu) == []


async def test_dataset_mounts_reach_the_pod_through_the_data_pvc_or_are_refused_by_name(
    pods: Callable[..., KubernetesKernelBackend],
    resources: ResourceService,
    emulated_cluster: Cluster,
    labrig_env: Path,
) -> None:
    emu, _ = emulated_cluster
    moons = labrig_env / "mounts" / "moons"
    moons.mkdir(parents=True)
    (moons / "train.csv").write_text("x,y\n")
    resources.kernel_env_hooks.append(lambda path: {"LABRIG_DATASET_MOONS": str(moons)})
    pods()  # no data_pvc: no volume source for the mount
    with pytest.raises(LabrigError, match="have no volume source in pods"):
        await start()
    assert resources.last_stop(NOTEBOOK)["message"] == (
        f"kernel not started: its dataset mounts {moons} have no volume source in pods; set "
        "KubernetesKernelBackend.data_pvc to the PVC holding labrig's data directory"
    )
    assert notebook_pods(emu) == []

    pods(data_pvc="labrig-data")
    manager, client = await start()
    try:
        reply = await client.execute_interactive(
            "import os; print(open(os.environ['LABRIG_DATASET_MOONS'] + '/train.csv').read())",
            timeout=60,
        )
        assert reply["content"]["status"] == "ok"
        (pod,) = notebook_pods(emu)
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"] == {
            "claimName": "labrig-data",
            "readOnly": True,
        }
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
