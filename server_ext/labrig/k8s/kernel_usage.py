"""Live usage of a notebook's kernel pod, in the shape of local usage (``resources.usage``).

Where the figures come from, best first:

1. inside the pod: the usage reporter the pod's launcher starts (``labrig.kernels.pod_usage``),
   read through the API server's pod proxy (``pods/proxy``, verb get): CPU and memory from the
   container's cgroup, GPUs from NVML;
2. the cluster's metrics API (``metrics.k8s.io``, metrics-server): CPU and memory only.

Each dimension's ``mechanism`` (the text behind the panel's enforced/advisory badge) says which
one measured it, or why none did; a figure nobody measured is ``null``, never a zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import LabrigError
from ..resources.quantity import format_bytes, parse_quantity
from .client import Kind, Kube, explain

POD_METRICS = Kind("PodMetrics", "metrics.k8s.io", "v1beta1", "pods")
#: How RBAC and error messages name the proxy subresource.
POD_PROXY = Kind("Pod", "", "v1", "pods/proxy")
#: (connect, read) seconds: the panel polls; a reporter that hangs must not hold it long.
PROXY_TIMEOUT = (2.0, 3.0)
METRICS_SOURCE = "the metrics API (metrics.k8s.io)"


@dataclass(frozen=True)
class PodUsage:
    """What one pod uses, and what measured it."""

    cores: float | None = None
    memory: int | None = None
    #: Which source gave ``cores`` and ``memory``, or why none did.
    source: str = ""
    #: GPUs as the local payload lists them (uuid, model, memory_total, utilization, memory_used).
    gpus: list[dict[str, Any]] = field(default_factory=list)
    #: Which source gave ``gpus``, or why none did.
    gpu_source: str = ""
    #: Bytes in the kernel's scratch directory (its emptyDir), measured inside the pod.
    scratch: int | None = None


def _amount(quantity: Any) -> float:
    """A metrics API quantity (``250m``, ``1500000n``, ``20Mi``) as a number."""
    parsed = parse_quantity(str(quantity))
    return float(parsed) if parsed is not None else 0.0


def read_reporter(kube: Kube, pod_name: str, port: int) -> dict[str, Any]:
    """The in-pod reporter's answer through the pod proxy (raises ``LabrigError`` saying why
    it did not answer)."""
    from kubernetes import client

    api = client.CoreV1Api(kube.api)
    try:
        response = api.connect_get_namespaced_pod_proxy_with_path(
            f"{pod_name}:{port}",
            kube.namespace,
            "usage",
            _preload_content=False,
            _request_timeout=PROXY_TIMEOUT,
        )
        answer = json.loads(response.data)
    except ValueError as err:
        raise LabrigError(f"its answer is not JSON ({err})") from err
    except Exception as err:
        raise explain(err, "get", POD_PROXY, kube.namespace, kube.host) from err
    if not isinstance(answer, dict):
        raise LabrigError("its answer is not a JSON object")
    return answer


def read_metrics(kube: Kube, pod_name: str) -> tuple[float, int]:
    """(cores, bytes) the pod's containers use, from the metrics API (raises ``LabrigError``
    where the cluster has no metrics server, or it has no sample of the pod yet)."""
    found = kube.get(POD_METRICS, pod_name)
    cores, memory = 0.0, 0
    for container in found.get("containers") or []:
        usage = container.get("usage") or {}
        cores += _amount(usage.get("cpu", "0"))
        memory += int(_amount(usage.get("memory", "0")))
    return cores, memory


def _gpu_part(answer: dict[str, Any] | None, unreachable: str) -> tuple[list[dict[str, Any]], str]:
    if answer is None:
        return [], f"GPU usage not reported: the in-pod reporter did not answer ({unreachable})"
    if answer.get("gpus") is None:
        return [], f"GPU usage not reported: {answer.get('gpu_reason') or 'no NVML in the pod'}"
    return list(answer["gpus"]), "GPU usage from NVML inside the pod"


def measure(kube: Kube, pod_name: str, port: int) -> PodUsage:
    """The pod's usage from the best source that answers (blocking: call off the event loop)."""
    answer: dict[str, Any] | None = None
    if not port:
        unreachable = "kernel pods have none: KubernetesKernelBackend.usage_port is 0"
    else:
        try:
            answer = read_reporter(kube, pod_name, port)
            unreachable = ""
        except LabrigError as err:
            unreachable = err.message
    gpus, gpu_source = _gpu_part(answer, unreachable)
    scratch = None if answer is None or answer.get("scratch") is None else int(answer["scratch"])
    if answer is not None and answer.get("memory") is not None:
        cores = answer.get("cpu")
        source = f"usage from the pod's cgroup ({answer.get('cgroup')}), read inside the pod"
        return PodUsage(
            None if cores is None else float(cores),
            int(answer["memory"]),
            source,
            gpus,
            gpu_source,
            scratch,
        )
    why = unreachable if answer is None else str(answer.get("reason"))
    try:
        cores, memory = read_metrics(kube, pod_name)
    except LabrigError as err:
        source = (
            f"usage not measured: the in-pod reporter did not answer ({why}) and "
            f"{METRICS_SOURCE} did not either ({err.message})"
        )
        return PodUsage(source=source, gpus=gpus, gpu_source=gpu_source, scratch=scratch)
    source = f"usage from {METRICS_SOURCE}: the in-pod reporter did not answer ({why})"
    return PodUsage(cores, memory, source, gpus, gpu_source, scratch)


def disk_usage(limit: int | None, used: int | None, running: bool) -> dict[str, Any]:
    """The scratch disk as the local panel shows it: the pod's ephemeral-storage limit, and
    what its scratch directory holds, as far as the pod's reporter told."""
    mechanism = f"ephemeral-storage limit {format_bytes(limit)}" if limit else "no request"
    if used is not None:
        mechanism += "; usage of the scratch directory, measured inside the pod"
    elif running:
        mechanism += "; scratch usage not measured (the in-pod reporter did not tell)"
    over = limit is not None and used is not None and used > limit
    return {
        "limit": limit,
        "used": used,
        "percent": None if used is None or not limit else round(100 * used / limit, 1),
        "over_quota": over,
        "warning": (
            f"scratch disk uses {format_bytes(used or 0)}, over the quota of "
            f"{format_bytes(limit or 0)}: the kubelet evicts the kernel's pod"
            if over
            else None
        ),
        "state": "enforced" if limit else "advisory",
        "mechanism": mechanism,
    }
