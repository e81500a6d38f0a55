"""Small, valid manifests for the tests of the emulator and the fake cluster."""

from __future__ import annotations

import sys
from typing import Any

PYTHON = sys.executable
IMAGE = "python:3.11-slim"


def container(
    command: list[str] | None = None,
    *,
    name: str = "pytorch",
    image: str = IMAGE,
    env: dict[str, str] | None = None,
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image}
    if command is not None:
        c["command"] = command
    if env:
        c["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if resources:
        c["resources"] = resources
    return c


def pytorchjob(
    name: str,
    command: list[str],
    *,
    workers: int = 1,
    queue: str | None = None,
    priority_class: str | None = None,
    resources: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    nproc_per_node: str | None = None,
    restart_policy: str = "Never",
    suspend: bool | None = None,
) -> dict[str, Any]:
    """A PyTorchJob (kubeflow.org/v1) with a Master and ``workers`` Workers."""

    def replica(count: int) -> dict[str, Any]:
        return {
            "replicas": count,
            "restartPolicy": restart_policy,
            "template": {
                "metadata": {"labels": {"app": "labrig-test"}},
                "spec": {"containers": [container(command, env=env, resources=resources)]},
            },
        }

    specs = {"Master": replica(1)}
    if workers:
        specs["Worker"] = replica(workers)
    labels: dict[str, str] = {}
    if queue:
        labels["kueue.x-k8s.io/queue-name"] = queue
    if priority_class:
        labels["kueue.x-k8s.io/priority-class"] = priority_class
    spec: dict[str, Any] = {"pytorchReplicaSpecs": specs}
    if nproc_per_node is not None:
        spec["nprocPerNode"] = nproc_per_node
    if suspend is not None:
        spec["runPolicy"] = {"suspend": suspend}
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": meta, "spec": spec}


def trainjob(
    name: str,
    command: list[str],
    *,
    runtime: str = "torch-distributed",
    num_nodes: int = 1,
    queue: str | None = None,
    env: dict[str, str] | None = None,
    resources: dict[str, Any] | None = None,
    num_proc_per_node: int | None = None,
) -> dict[str, Any]:
    """A TrainJob (trainer.kubeflow.org/v1alpha1) on a ClusterTrainingRuntime."""
    trainer: dict[str, Any] = {"image": IMAGE, "command": command, "numNodes": num_nodes}
    if env:
        trainer["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if resources:
        trainer["resourcesPerNode"] = resources
    if num_proc_per_node is not None:
        trainer["numProcPerNode"] = num_proc_per_node
    meta: dict[str, Any] = {"name": name}
    if queue:
        meta["labels"] = {"kueue.x-k8s.io/queue-name": queue}
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": meta,
        "spec": {"runtimeRef": {"name": runtime}, "trainer": trainer},
    }


def pod(
    name: str, command: list[str], *, resources: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container(command, name="main", resources=resources)],
    }
    spec.update(extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def kueue_objects() -> list[dict[str, Any]]:
    """A ResourceFlavor, a ClusterQueue, a LocalQueue and a Workload (all v1beta2)."""
    return [
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": "default"},
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": "team"},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": ["cpu", "memory", "nvidia.com/gpu"],
                        "flavors": [
                            {
                                "name": "default",
                                "resources": [
                                    {"name": "cpu", "nominalQuota": 8},
                                    {"name": "memory", "nominalQuota": "32Gi"},
                                    {"name": "nvidia.com/gpu", "nominalQuota": "2"},
                                ],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "LocalQueue",
            "metadata": {"name": "ml-queue", "namespace": "ml"},
            "spec": {"clusterQueue": "team"},
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "Workload",
            "metadata": {"name": "wl", "namespace": "ml"},
            "spec": {
                "queueName": "ml-queue",
                "podSets": [
                    {
                        "name": "main",
                        "count": 2,
                        "template": {"spec": {"containers": [container(["true"], name="main")]}},
                    }
                ],
            },
        },
    ]
