"""What the kernel tests share besides fixtures (a module name no other test folder uses, so
``from kernels_kit import ...`` finds it whichever folders run together)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k8s.cluster import FakeCluster
from k8s.emulator import ApiEmulator

from labrig.k8s.kernel_backend import KubernetesKernelBackend
from labrig.resources.backend import KernelBackend
from labrig.resources.service import ResourceService

IMAGE = "registry.example.com/ml/labrig-kernel:test"
NOTEBOOK = "train.ipynb"
#: The server URL kernels get in tests without a server (nothing is called at it).
KERNEL_SERVER_URL = "http://jupyter.ml.svc:8888/user/alice/"


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


def kernelspec(root: Path, provisioner: str) -> str:
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


def stop_response_manager() -> None:
    """gateway_provisioners' response listener is a process-wide singleton polled on the event
    loop it was made on: a server has one loop (and closes it with the extension), each test has
    its own."""
    KubernetesKernelBackend().close()
