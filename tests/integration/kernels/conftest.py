"""Both kernel backends, each with a kernelspec naming its provisioner: the local one (processes
of this host) and the Kubernetes one (pods of the API emulator, run by the fake kubelet as
processes of this host, so the kernel really runs ``labrig.kernels.pod_launch``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from k8s.cluster import FakeCluster, Node
from k8s.emulator import ApiEmulator

from labrig.app import register_provisioners
from labrig.k8s.kernel_backend import KubernetesKernelBackend
from labrig.resources import backend as kernel_backends
from labrig.resources import runtime
from labrig.resources.backend import KernelBackend, LocalKernelBackend
from labrig.resources.service import ResourceService
from labrig.store import Database

IMAGE = "registry.example.com/ml/labrig-kernel:test"
NOTEBOOK = "train.ipynb"


@dataclass
class Kernels:
    """A kernel backend as the server would have it, with what its tests look at."""

    name: str
    backend: KernelBackend
    kernel_name: str
    service: ResourceService
    cluster: FakeCluster | None = None
    emu: ApiEmulator | None = None

    def pods(self) -> list[dict[str, Any]]:
        assert self.emu is not None
        return list(self.emu.store.select("pods", "ml"))


def _kernelspec(root: Path, provisioner: str) -> str:
    name = f"labrig-{provisioner}"
    spec_dir = root / "share" / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({provisioner})",
        "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": provisioner}},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return name


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


def kubernetes_backend(
    emu: ApiEmulator, tmp_path: Path, **settings: Any
) -> KubernetesKernelBackend:
    kubeconfig = emu.kubeconfig(tmp_path / "kubeconfig", namespace="ml")
    values: dict[str, Any] = {
        "kubeconfig": str(kubeconfig),
        "namespace": "ml",
        "image": IMAGE,
        "start_timeout": 60.0,
    }
    values.update(settings)
    return KubernetesKernelBackend(**values)


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
        name = _kernelspec(tmp_path, local.provisioner_name)
        yield Kernels("local", local, name, resources)
    else:
        emu, cluster = request.getfixturevalue("emulated_cluster")
        backend = kubernetes_backend(emu, tmp_path)
        kernel_backends.set_current(backend)
        name = _kernelspec(tmp_path, backend.provisioner_name)
        yield Kernels("kubernetes", backend, name, resources, cluster, emu)
        _stop_response_manager()
    kernel_backends.set_current(None)


def _stop_response_manager() -> None:
    """gateway_provisioners' response listener is a process-wide singleton polled on the event
    loop it was made on: a server has one loop, each test has its own."""
    from gateway_provisioners.response_manager import ResponseManager

    if ResponseManager.initialized():
        ResponseManager.instance().stop_response_manager()
        ResponseManager.clear_instance()
