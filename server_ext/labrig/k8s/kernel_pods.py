"""The pod a notebook's kernel becomes on Kubernetes, as a plain dict (pure functions: golden files
and schema validation test them without a cluster).

The pod runs gateway_provisioners' Python kernel launcher (``python -m labrig.kernels.pod_launch``
finds it in the image's gateway_provisioners): it starts the kernel on the pod's IP and sends its
connection info, encrypted with the server's public key, to the server's response address; it
also listens on a communication port for interrupts and shutdown. Requests and limits are the
notebook's request (CPU, memory, GPUs under the configured resource name, ephemeral storage for
the scratch disk); the environment is the local kernel's ``LABRIG_*``; dataset mounts appear at
the same paths as on the server, as far as a volume source is known for them
(``pod_volumes_for_mounts``). With a usage port, the pod declares it and tells the launcher, which
starts the in-pod usage reporter there (``labrig.kernels.pod_usage``; the server reads it
through the API server's pod proxy). The kernel's API token is never written into the pod spec
(readable by whoever may read pods): it lives in a Secret of its own (``token_secret``), which
the container's ``LABRIG_API_TOKEN`` references and which goes with the pod (``owned_by``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from labrig.jobs.env_names import API_TOKEN_ENV

from .client import POD, Kind
from .manifests import MANAGED_BY, Placement, add_identity_and_placement

KERNEL_LABEL = "labrig.io/kernel-id"
NOTEBOOK_LABEL = "labrig.io/notebook-hash"
COMPONENT = {"app.kubernetes.io/component": "kernel"}
CONTAINER = "kernel"
SCRATCH_VOLUME = "scratch"
USAGE_PORT_NAME = "usage"
DEFAULT_USAGE_PORT = 9469
#: Where container runtimes mount the container's own cgroup; the reporter reads it there.
CGROUP_ROOT = "/sys/fs/cgroup"
DATA_VOLUME = "data"
#: The kernel's token: the key in its Secret.
SECRET = Kind("Secret", "", "v1", "secrets")
TOKEN_KEY = "token"


@dataclass(frozen=True)
class KernelPodSettings:
    """``KubernetesKernelBackend``'s settings, as the builder needs them."""

    namespace: str
    image: str
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = ()
    service_account: str = ""
    gpu_resource: str = "nvidia.com/gpu"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    data_pvc: str = ""
    data_mount: str = ""
    #: More env entries of the kernel container (EnvVar objects: secrets by valueFrom).
    extra_env: tuple[dict[str, Any], ...] = ()
    #: Port of the in-pod usage reporter; 0: none (usage from the metrics API only).
    usage_port: int = 0


@dataclass(frozen=True)
class PodVolumes:
    """Volumes that put a kernel's dataset mounts at their paths, and the mounts left without a
    volume source (named, so the kernel's start can say which)."""

    volumes: tuple[dict[str, Any], ...] = ()
    mounts: tuple[dict[str, Any], ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class KernelPod:
    """One start of a notebook's kernel, as the builder needs it."""

    kernel_id: str
    pod_name: str
    notebook_path: str | None
    cpus: float | None
    memory: int | None
    gpus: int
    disk: int | None
    #: The launcher's command line (the kernel id, response address and public key in it).
    command: tuple[str, ...]
    env: dict[str, str]
    #: The kernel's scratch directory (``LABRIG_SCRATCH``), an emptyDir in the pod.
    scratch: str | None = None
    volumes: PodVolumes = field(default_factory=PodVolumes)
    placement: Placement = field(default_factory=Placement)
    #: The Secret holding the kernel's API token (``token_secret``); None: the kernel gets none.
    token_secret: str | None = None


def pod_name(kernel_id: str, start: int) -> str:
    """``labrig-kernel-<id>-<n>``: a restart's pod never collides with its terminating
    predecessor."""
    return f"labrig-kernel-{kernel_id}-{start}"


def token_secret_name(pod: str) -> str:
    """One Secret per pod: a restart's new token never lands in the old pod's Secret."""
    return f"{pod}-api-token"


def token_secret(settings: KernelPodSettings, kernel: KernelPod, token: str) -> dict[str, Any]:
    """The Secret holding the kernel's API token, created before its pod."""
    assert kernel.token_secret is not None
    return {
        "apiVersion": SECRET.api_version,
        "kind": SECRET.kind,
        "metadata": {
            "name": kernel.token_secret,
            "namespace": settings.namespace,
            "labels": kernel_labels(settings, kernel.kernel_id),
        },
        "type": "Opaque",
        "stringData": {TOKEN_KEY: token},
    }


def owned_by(pod: dict[str, Any]) -> dict[str, Any]:
    """A patch making an object the pod's: the cluster deletes it with the pod, whoever
    deletes the pod."""
    meta = pod["metadata"]
    owner = {"apiVersion": POD.api_version, "kind": POD.kind, "name": meta["name"]}
    return {"metadata": {"ownerReferences": [{**owner, "uid": meta["uid"]}]}}


def notebook_hash(notebook_path: str) -> str:
    """A label value for a notebook path (paths do not fit label syntax)."""
    return hashlib.sha256(notebook_path.encode()).hexdigest()[:32]


def kernel_labels(settings: KernelPodSettings, kernel_id: str) -> dict[str, str]:
    # kernel_id/component: the labels gateway_provisioners' tooling selects kernel pods by.
    return {
        **settings.labels,
        **MANAGED_BY,
        **COMPONENT,
        KERNEL_LABEL: kernel_id,
        "kernel_id": kernel_id,
        "component": "kernel",
    }


def pod_volumes_for_mounts(settings: KernelPodSettings, mounts: dict[str, str]) -> PodVolumes:
    """Volumes for a kernel's dataset mounts (dataset name -> path on the server).

    The one volume source known today is labrig's data directory on a PVC (``data_pvc``),
    mounted read-only at the server's path: it holds the cache and the mount trees under it.
    A mount elsewhere, or without that PVC, is returned in ``missing``. A Fluid or per-dataset
    PVC cache fills the rest here.
    """
    if not mounts:
        return PodVolumes()
    data = PurePosixPath(settings.data_mount) if settings.data_pvc else None
    missing = tuple(
        sorted(
            name
            for name, path in mounts.items()
            if data is None or not PurePosixPath(path).is_relative_to(data)
        )
    )
    if data is None or len(missing) == len(mounts):
        return PodVolumes(missing=missing)
    volume = {
        "name": DATA_VOLUME,
        "persistentVolumeClaim": {"claimName": settings.data_pvc, "readOnly": True},
    }
    mount = {"name": DATA_VOLUME, "mountPath": str(data), "readOnly": True}
    return PodVolumes(volumes=(volume,), mounts=(mount,), missing=missing)


def _quantity(cpus: float) -> str:
    return f"{round(cpus * 1000)}m" if cpus != int(cpus) else str(int(cpus))


def kernel_resources(settings: KernelPodSettings, kernel: KernelPod) -> dict[str, Any]:
    """The notebook's request as the container's requests and limits (equal: the kernel gets
    what was asked for, and no more)."""
    amounts: dict[str, str] = {}
    if kernel.cpus:
        amounts["cpu"] = _quantity(kernel.cpus)
    if kernel.memory:
        amounts["memory"] = str(kernel.memory)
    if kernel.gpus:
        amounts[settings.gpu_resource] = str(kernel.gpus)
    if kernel.disk:
        amounts["ephemeral-storage"] = str(kernel.disk)
    return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}


def _scratch(kernel: KernelPod) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not kernel.scratch:
        return [], []
    empty: dict[str, Any] = {"sizeLimit": str(kernel.disk)} if kernel.disk else {}
    return (
        [{"name": SCRATCH_VOLUME, "emptyDir": empty}],
        [{"name": SCRATCH_VOLUME, "mountPath": kernel.scratch}],
    )


def _metadata(settings: KernelPodSettings, kernel: KernelPod) -> dict[str, Any]:
    labels = kernel_labels(settings, kernel.kernel_id)
    annotations = dict(settings.annotations)
    if kernel.notebook_path is not None:
        labels[NOTEBOOK_LABEL] = notebook_hash(kernel.notebook_path)
        annotations["labrig.io/notebook"] = kernel.notebook_path
    meta: dict[str, Any] = {
        "name": kernel.pod_name,
        "namespace": settings.namespace,
        "labels": labels,
    }
    if annotations:
        meta["annotations"] = annotations
    return meta


def _usage_env(settings: KernelPodSettings) -> dict[str, str]:
    if not settings.usage_port:
        return {}
    return {"LABRIG_USAGE_PORT": str(settings.usage_port), "LABRIG_CGROUP_ROOT": CGROUP_ROOT}


def _token_env(kernel: KernelPod) -> list[dict[str, Any]]:
    if kernel.token_secret is None:
        return []
    ref = {"name": kernel.token_secret, "key": TOKEN_KEY}
    return [{"name": API_TOKEN_ENV, "valueFrom": {"secretKeyRef": ref}}]


def kernel_pod(settings: KernelPodSettings, kernel: KernelPod) -> dict[str, Any]:
    """The kernel's pod: one container running the launcher, never restarted in place (a
    restart is a new pod, so the kernel's connection info is always fresh)."""
    scratch_volumes, scratch_mounts = _scratch(kernel)
    env = {**kernel.env, **_usage_env(settings)}
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": list(kernel.command),
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())]
        + _token_env(kernel)
        + [dict(entry) for entry in settings.extra_env],
        "volumeMounts": [*scratch_mounts, *kernel.volumes.mounts],
    }
    if settings.usage_port:
        container["ports"] = [
            {"name": USAGE_PORT_NAME, "containerPort": settings.usage_port, "protocol": "TCP"}
        ]
    resources = kernel_resources(settings, kernel)
    if resources:
        container["resources"] = resources
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": [*scratch_volumes, *kernel.volumes.volumes],
    }
    add_identity_and_placement(
        spec, settings.service_account, settings.image_pull_secrets, kernel.placement
    )
    return {
        "apiVersion": POD.api_version,
        "kind": POD.kind,
        "metadata": _metadata(settings, kernel),
        "spec": spec,
    }
