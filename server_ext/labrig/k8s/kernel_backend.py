"""The Kubernetes kernel backend: each notebook kernel runs in a pod with the notebook's requests
and limits, started by ``labrig-kubernetes-provisioner`` (``labrig.kernels.pod``).

The provisioner creates, follows and deletes the pod through this backend (its settings, its
client); while the pod waits it reports why here, so the panel can say it. Usage comes from inside
the pod (its cgroup and NVML, through the pod proxy) or else the cluster's metrics API
(``kernel_usage``).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from traitlets import Dict, Float, Int, List, Unicode, validate

from ..errors import InvalidInput, NotFound
from ..resources.backend import KernelBackend, KernelWait
from . import kernel_pods, kernel_usage, manifests
from .client import POD, Kind, Kube
from .pod_settings import KubernetesPodSettings

if TYPE_CHECKING:
    from ..resources.service import ResourceService

EVENT = Kind("Event", "", "v1", "events")
PROVISIONER = "labrig-kubernetes-provisioner"


def _percent(used: float | None, limit: float | None) -> float | None:
    return None if used is None or not limit else round(100 * used / limit, 1)


class KubernetesKernelBackend(KernelBackend, KubernetesPodSettings):
    """Notebook kernels in pods of the configured namespace."""

    kind = "kubernetes"

    image = Unicode(
        "",
        config=True,
        help="""Container image of kernel pods: Python with labrig (which brings
        gateway_provisioners' kernel launcher), ipykernel and what the notebooks import
        (examples/kubernetes/Dockerfile builds one). Required.""",
    )
    start_timeout = Float(
        300.0,
        config=True,
        help="""Seconds a kernel's pod may wait (for a node, its image, quota) before its start is
        given up, the pod deleted and the reason shown in the panel.""",
    )
    env = List(
        Dict(),
        config=True,
        help="""Environment entries of kernel containers besides labrig's own, as Kubernetes
        EnvVar objects, e.g. [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name":
        "hf", "key": "token"}}}]: credentials come from Secrets, never as literal values in
        pod specs. Kernels need no database URL: labrig gives each one LABRIG_SERVER_URL
        (LabrigApp.kernel_server_url) and a token of its own.""",
    )
    launcher = List(
        Unicode(),
        ["python", "-m", "labrig.kernels.pod_launch"],
        config=True,
        help="""Command that starts the kernel in the pod (gateway_provisioners' Python launcher);
        labrig appends --kernel-id, --response-address, --public-key and --port-range.""",
    )
    usage_port = Int(
        kernel_pods.DEFAULT_USAGE_PORT,
        min=0,
        max=65535,
        config=True,
        help="""Port of the usage reporter that kernel pods start beside the kernel (CPU and
        memory from the pod's cgroup, GPUs from NVML); the server reads it through the API
        server's pod proxy, so labrig's Role needs get on pods/proxy. 0: no reporter, usage
        from the cluster's metrics API (metrics.k8s.io) only, without GPUs.""",
    )

    @validate("env")
    def _no_literal_credentials(self, proposal: Any) -> Any:
        entries = proposal["value"]
        manifests.refuse_literal_credentials(
            "KubernetesKernelBackend.env", entries, "the kernel's pod"
        )
        return entries

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._waits: dict[str, KernelWait] = {}
        self._lock = threading.Lock()

    @property
    def provisioner_name(self) -> str:
        return PROVISIONER

    @cached_property
    def kube(self) -> Kube:
        from .client import api_client

        return Kube(api_client(self.kubeconfig, self.context), self.namespace)

    @property
    def data_dir(self) -> str:
        return str(getattr(self.parent, "data_dir", "") or os.environ.get("LABRIG_DATA_DIR", ""))

    def capabilities(self) -> dict[str, str]:
        return {
            "kernels.launcher": f"Kubernetes pods in namespace {self.namespace}",
            "kernels.limits": "pod requests and limits (cpu, memory, "
            f"{self.gpu_resource}, ephemeral-storage)",
            "kernels.usage": (
                f"inside each pod (cgroup, NVML) on port {self.usage_port} through pods/proxy, "
                "else the metrics API"
                if self.usage_port
                else "the metrics API (metrics.k8s.io), no GPU usage"
            ),
        }

    def check(self) -> None:
        """Refuse to start a kernel this backend cannot start (raise ``InvalidInput``)."""
        if not self.image:
            raise InvalidInput(
                "kernels on Kubernetes need an image: set KubernetesKernelBackend.image",
                field="image",
            )

    def pod_settings(self) -> kernel_pods.KernelPodSettings:
        return kernel_pods.KernelPodSettings(
            namespace=self.namespace,
            image=self.image,
            image_pull_policy=self.image_pull_policy,
            image_pull_secrets=tuple(self.image_pull_secrets),
            service_account=self.service_account,
            gpu_resource=self.gpu_resource,
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            data_pvc=self.data_pvc,
            data_mount=self.data_dir,
            extra_env=tuple(self.env),
            usage_port=self.usage_port,
        )

    # --- what the provisioner does through the cluster (blocking: call off the event loop) ---

    def create_pod(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.kube.create(POD, body)

    def create_token_secret(self, body: dict[str, Any]) -> None:
        self.kube.create(kernel_pods.SECRET, body)

    def give_secret_to_pod(self, secret: str, pod: dict[str, Any]) -> None:
        """The cluster deletes the Secret with the pod, even when labrig does not."""
        self.kube.patch(kernel_pods.SECRET, secret, kernel_pods.owned_by(pod))

    def delete_secret(self, name: str) -> None:
        self.kube.delete(kernel_pods.SECRET, name, propagation="Background")

    def read_pod(self, name: str) -> dict[str, Any] | None:
        try:
            return self.kube.get(POD, name)
        except NotFound:
            return None

    def pod_events(self, name: str) -> list[dict[str, Any]]:
        """The pod's events, oldest first."""
        found = self.kube.call(
            "GET",
            EVENT,
            query={"fieldSelector": f"involvedObject.name={name}"},
            verb="list",
        )
        items: list[dict[str, Any]] = found.get("items") or []
        return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")

    def delete_pod(self, name: str) -> None:
        self.kube.delete(POD, name, propagation="Background")

    def _pods(self, selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.kube.list(POD, selector).get("items") or []
        return items

    def stop(self, kernel_id: str) -> None:
        for pod in self._pods(f"{kernel_pods.KERNEL_LABEL}={kernel_id}"):
            self.delete_pod(pod["metadata"]["name"])

    def close(self) -> None:
        """Stop gateway_provisioners' listener for kernels' connection info, if one started."""
        import sys

        module = sys.modules.get("gateway_provisioners.response_manager")
        if module is not None and module.ResponseManager.initialized():
            module.ResponseManager.instance().stop_response_manager()
            module.ResponseManager.clear_instance()

    # --- why a kernel waits ------------------------------------------------------------------

    def report_wait(self, notebook_path: str | None, wait: KernelWait | None) -> None:
        """The provisioner says why the notebook's kernel waits (None: it no longer does)."""
        if notebook_path is None:
            return
        with self._lock:
            if wait is None:
                self._waits.pop(notebook_path, None)
            else:
                self._waits[notebook_path] = wait

    def waiting(self, notebook_path: str) -> KernelWait | None:
        with self._lock:
            return self._waits.get(notebook_path)

    # --- usage ---------------------------------------------------------------------------------

    def usage(self, service: ResourceService, notebook_path: str) -> dict[str, Any]:
        path = service.check_path(notebook_path)
        request = service.request_for(path)
        selector = f"{kernel_pods.NOTEBOOK_LABEL}={kernel_pods.notebook_hash(path)}"
        running = [
            p for p in self._pods(selector) if (p.get("status") or {}).get("phase") == "Running"
        ]
        measured = (
            kernel_usage.measure(self.kube, running[-1]["metadata"]["name"], self.usage_port)
            if running
            else kernel_usage.PodUsage()
        )
        cpus = request.cpus if request else None
        memory = request.memory if request else None
        disk = request.disk if request else None
        limits = f"pod limits in namespace {self.namespace}"
        how = f"{limits}; {measured.source}" if running else limits
        wait = self.waiting(path)
        return {
            "notebook_path": path,
            "running": bool(running),
            "kernels": [
                f"kernel:{p['metadata']['labels'][kernel_pods.KERNEL_LABEL]}" for p in running
            ],
            "sampled_at": datetime.now(UTC).isoformat(),
            "cpu": {
                "limit": cpus,
                "used": None if measured.cores is None else round(measured.cores, 2),
                "percent": _percent(measured.cores, cpus),
                "state": "enforced" if cpus else "advisory",
                "mechanism": how,
            },
            "memory": {
                "limit": memory,
                "used": measured.memory,
                "percent": _percent(measured.memory, memory),
                "state": "enforced" if memory else "advisory",
                "mechanism": how,
            },
            "gpus": measured.gpus,
            "gpu": {
                "requested": request.gpus if request else 0,
                "state": "enforced",
                "mechanism": f"the cluster places {self.gpu_resource}"
                + (f"; {measured.gpu_source}" if running else ""),
            },
            "disk": kernel_usage.disk_usage(disk, measured.scratch, bool(running)),
            "last_stop": service.last_stop(path),
            "waiting": None if wait is None else wait.json(),
        }
