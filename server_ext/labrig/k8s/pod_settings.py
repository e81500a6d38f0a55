"""The settings every labrig pod shares, jobs' ranks and notebooks' kernels alike: where the
cluster is, which namespace, how images are pulled, which service account, GPUs' resource
name, placement per profile, labels, and the PVC holding labrig's data directory.

``KubernetesJobBackend`` and ``KubernetesKernelBackend`` both derive from ``KubernetesPodSettings``,
so ``c.KubernetesPodSettings.namespace = "ml"`` configures both, and ``c.KubernetesJobBackend.*``
or ``c.KubernetesKernelBackend.*`` one of them.
"""

from __future__ import annotations

from pathlib import Path

from traitlets import Dict, Enum, List, Unicode, default
from traitlets.config import Configurable

from .manifests import Placement

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def in_cluster_namespace() -> str:
    """The server pod's own namespace when it runs in a cluster, else 'default'."""
    try:
        return IN_CLUSTER_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


class KubernetesPodSettings(Configurable):
    """What labrig's job and kernel pods share (configurable for both at once)."""

    namespace = Unicode(
        config=True,
        help="""Namespace of labrig's pods. Default: the server pod's own namespace when it runs
        in a cluster, else 'default'.""",
    )
    kubeconfig = Unicode(
        "",
        config=True,
        help="""Path of a kubeconfig file. Empty: the pod's service account when the server runs
        in a cluster, else $KUBECONFIG or ~/.kube/config.""",
    )
    context = Unicode("", config=True, help="The kubeconfig context to use (empty: its current).")
    image_pull_policy = Enum(
        ["IfNotPresent", "Always", "Never"],
        "IfNotPresent",
        config=True,
        help="imagePullPolicy of labrig's containers.",
    )
    image_pull_secrets = List(
        Unicode(), config=True, help="Names of Secrets used to pull labrig's images."
    )
    service_account = Unicode(
        "", config=True, help="Service account of labrig's pods (empty: the namespace default)."
    )
    gpu_resource = Unicode(
        "nvidia.com/gpu",
        config=True,
        help="Extended resource name GPUs are requested under (nvidia.com/gpu, amd.com/gpu, ...).",
    )
    profiles = Dict(
        config=True,
        help="""Pod placement per resource profile slug: {"gpu-a100": {"node_selector": {...},
        "tolerations": [...], "affinity": {...}}}; the key "*" applies to every other profile.""",
    )
    data_pvc = Unicode(
        "",
        config=True,
        help="""PVC holding labrig's data directory (the dataset cache and mount trees), mounted
        read-only in labrig's pods at the same path as on the server, so datasets are at the
        same paths as locally. Jobs and kernels that mount datasets are refused without it.""",
    )
    labels = Dict(config=True, help="Labels added to everything labrig creates.")
    annotations = Dict(config=True, help="Annotations added to everything labrig creates.")

    @default("namespace")
    def _default_namespace(self) -> str:
        return in_cluster_namespace()

    def placement(self, profile: str | None) -> Placement:
        """Where pods of a notebook or job with resource profile ``profile`` may run."""
        entry = self.profiles.get(profile or "") or self.profiles.get("*") or {}
        return Placement(
            node_selector=dict(entry.get("node_selector") or {}),
            tolerations=list(entry.get("tolerations") or []),
            affinity=dict(entry.get("affinity") or {}),
        )
