"""Both kernel backends, each with a kernelspec naming its provisioner: the local one (processes
of this host) and the Kubernetes one (pods of the API emulator, run by the fake kubelet as
processes of this host, so the kernel really runs ``labrig.kernels.pod_launch``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from k8s.cluster import FakeCluster, Node
from k8s.emulator import ApiEmulator
from kernels_kit import (
    KERNEL_SERVER_URL,
    Kernels,
    kernelspec,
    kubernetes_backend,
    stop_response_manager,
)

from labrig.app import register_provisioners
from labrig.resources import backend as kernel_backends
from labrig.resources import runtime
from labrig.resources.backend import LocalKernelBackend
from labrig.resources.runtime import KernelApi
from labrig.resources.service import ResourceService
from labrig.store import Database
from labrig.tokens import ApiTokens


@pytest.fixture
def resources(labrig_env: Path, tmp_path: Path) -> Iterator[ResourceService]:
    db = Database(f"sqlite:///{labrig_env / 'labrig.db'}")
    db.upgrade()
    root = tmp_path / "root"
    root.mkdir()
    service = ResourceService(
        db, root_dir=root, discover_gpus=False, scratch_root=str(labrig_env / "scratch")
    )
    runtime.set_current(service)
    yield service
    runtime.set_current(None)
    db.dispose()


@pytest.fixture
def kernel_api(resources: ResourceService) -> Iterator[KernelApi]:
    """What a server gives its kernels instead of the database: tokens minted in the test's
    database and ``KERNEL_SERVER_URL``, for kernels on this host and in pods."""
    api = KernelApi(
        ApiTokens(resources.db), local_url=lambda: KERNEL_SERVER_URL, pod_url=KERNEL_SERVER_URL
    )
    runtime.set_kernel_api(api)
    yield api
    runtime.set_kernel_api(None)


@pytest.fixture
def emulated_cluster(tmp_path: Path) -> Iterator[tuple[ApiEmulator, FakeCluster]]:
    emu = ApiEmulator(namespaces=("default", "ml"), metrics=True)  # with metrics-server
    emu.start()
    cluster = FakeCluster(
        emu,
        tmp_path / "cluster",
        nodes=[Node("node-1", cpu="4", memory="16Gi"), Node("node-2", cpu="4", memory="16Gi")],
        poll=0.05,
    )
    # The "image" has this checkout's labrig (the venv's editable install may be another one).
    cluster.extra_env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    cluster.start()
    try:
        yield emu, cluster
    finally:
        cluster.stop()
        emu.stop()
        assert cluster.errors == [], cluster.errors


@pytest.fixture(params=["local", "kubernetes"])
def kernels(
    request: pytest.FixtureRequest,
    resources: ResourceService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Kernels]:
    """Each kernel backend in turn: the behavioural suite holds for both."""
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    register_provisioners(KernelProvisionerFactory.instance())
    if request.param == "local":
        local = LocalKernelBackend()
        kernel_backends.set_current(local)
        name = kernelspec(tmp_path, local.provisioner_name)
        yield Kernels("local", local, name, resources)
    else:
        emu, cluster = request.getfixturevalue("emulated_cluster")
        backend = kubernetes_backend(emu, tmp_path)
        kernel_backends.set_current(backend)
        name = kernelspec(tmp_path, backend.provisioner_name)
        yield Kernels("kubernetes", backend, name, resources, cluster, emu)
        stop_response_manager()
    kernel_backends.set_current(None)
