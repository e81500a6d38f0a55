"""``Node``: a node of the fake cluster (its pods all run on this host)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .. import kube


@dataclass
class Node:
    """A node the scheduler can place pods on (its processes all run on this host)."""

    name: str
    cpu: str = "4"
    memory: str = "16Gi"
    gpus: dict[str, int] = field(
        default_factory=dict
    )  # extended resources, e.g. {"nvidia.com/gpu": 2}
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    pods: int = 110
    unschedulable: bool = False

    def manifest(self) -> dict[str, Any]:
        capacity: dict[str, str] = {
            "cpu": str(self.cpu),
            "memory": str(self.memory),
            "pods": str(self.pods),
            "ephemeral-storage": "100Gi",
        }
        for name, count in self.gpus.items():
            if count:
                capacity[name] = str(count)
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            **self.labels,
        }
        spec: dict[str, Any] = {}
        if self.taints:
            spec["taints"] = [dict(t) for t in self.taints]
        if self.unschedulable:
            spec["unschedulable"] = True
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels},
            "spec": spec,
            "status": {
                "capacity": capacity,
                "allocatable": dict(capacity),
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": kube.now_iso(),
                        "lastTransitionTime": kube.now_iso(),
                    }
                ],
                "addresses": [
                    {"type": "InternalIP", "address": "127.0.0.1"},
                    {"type": "Hostname", "address": self.name},
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": "",
                    "containerRuntimeVersion": "containerd://2.0.0",
                    "kernelVersion": os.uname().release,
                    "kubeProxyVersion": "",
                    "kubeletVersion": "v1.37.0",
                    "machineID": "",
                    "operatingSystem": "linux",
                    "osImage": "labrig fake kubelet",
                    "systemUUID": "",
                },
            },
        }
