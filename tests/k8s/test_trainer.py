"""The fake trainer through the real client: TrainJobs, their runtimes, and Kueue."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from . import manifests as m
from .cluster import FakeCluster
from .helpers import (
    TG,
    TP,
    TV,
    conditions,
    pod_log,
    wait_for,
    workload_of,
)

# -------------------- TrainJob


def test_trainjob_runs(
    cluster: FakeCluster, core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    cluster.add_runtime("torch-distributed")
    script = (
        "import json, os; "
        "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('PET_')}))"
    )
    created = custom.create_namespaced_custom_object(
        TG,
        TV,
        "ml",
        TP,
        m.trainjob("tj", ["python", "-c", script], num_nodes=2, num_proc_per_node=1),
    )
    assert created["spec"]["runtimeRef"]["kind"] == "ClusterTrainingRuntime"  # CRD default

    def complete() -> Any:
        tj = custom.get_namespaced_custom_object(TG, TV, "ml", TP, "tj")
        c = conditions(tj).get("Complete")
        return tj if c and c["status"] == "True" else None

    tj = wait_for(complete, what="TrainJob Complete")
    assert conditions(tj)["Complete"]["reason"] == "AllJobsCompleted"
    assert conditions(tj)["Complete"]["message"] == "jobset completed successfully"
    assert tj["status"]["jobsStatus"] == [
        {"name": "node", "ready": 0, "succeeded": 1, "failed": 0, "active": 0, "suspended": 0}
    ]
    pods = core.list_namespaced_pod("ml", label_selector="jobset.sigs.k8s.io/jobset-name=tj").items
    assert len(pods) == 2
    by_rank = {}
    for pod in pods:
        assert pod.metadata.name.startswith("tj-node-0-")
        assert pod.metadata.labels["jobset.sigs.k8s.io/replicatedjob-name"] == "node"
        assert pod.spec.containers[0].name == "node"
        env = json.loads(pod_log(core, pod.metadata.name))
        by_rank[env["PET_NODE_RANK"]] = env
        assert (
            pod.metadata.labels["batch.kubernetes.io/job-completion-index"] == env["PET_NODE_RANK"]
        )
    assert set(by_rank) == {"0", "1"}
    for env in by_rank.values():
        assert env["PET_NNODES"] == "2"
        assert env["PET_NPROC_PER_NODE"] == "1"
        assert env["PET_MASTER_ADDR"] == "127.0.0.1"
    assert by_rank["0"]["PET_MASTER_PORT"] == by_rank["1"]["PET_MASTER_PORT"]
    spec_env = {e.name: e for e in pods[0].spec.containers[0].env}
    assert spec_env["PET_MASTER_ADDR"].value == "tj-node-0-0.tj"
    assert spec_env["PET_MASTER_PORT"].value == "29500"
    jobset = custom.get_namespaced_custom_object(
        "jobset.x-k8s.io", "v1alpha2", "ml", "jobsets", "tj"
    )
    assert jobset["metadata"]["ownerReferences"][0]["uid"] == tj["metadata"]["uid"]


def test_trainjob_needs_its_runtime(cluster: FakeCluster, custom: client.CustomObjectsApi) -> None:
    with pytest.raises(client.ApiException) as info:
        custom.create_namespaced_custom_object(
            TG, TV, "ml", TP, m.trainjob("orphan", ["true"], runtime="absent")
        )
    assert info.value.status == 403
    message = json.loads(info.value.body)["message"]
    assert message.startswith(
        'admission webhook "validator.trainjob.trainer.kubeflow.org" denied the request: '
        "spec.RuntimeRef: Invalid value:"
    )
    assert message.endswith(
        'clustertrainingruntimes.trainer.kubeflow.org "absent" not found: specified '
        "clusterTrainingRuntime must be created before the TrainJob is created"
    )


def test_trainjob_through_kueue(cluster: FakeCluster, custom: client.CustomObjectsApi) -> None:
    cluster.add_runtime()
    cluster.add_queue(quota={"cpu": "4", "memory": "8Gi"})
    tj = custom.create_namespaced_custom_object(
        TG,
        TV,
        "ml",
        TP,
        m.trainjob(
            "queued", ["true"], num_nodes=2, queue="ml-queue", resources={"requests": {"cpu": "1"}}
        ),
    )
    assert tj["spec"]["suspend"] is True

    def complete() -> Any:
        obj = custom.get_namespaced_custom_object(TG, TV, "ml", TP, "queued")
        return obj if conditions(obj).get("Complete", {}).get("status") == "True" else None

    obj = wait_for(complete, what="queued TrainJob complete")
    assert conditions(obj)["Suspended"] == {
        **conditions(obj)["Suspended"],
        "status": "False",
        "reason": "Resumed",
    }
    wl = workload_of(custom, tj["metadata"]["uid"])
    assert wl is not None
    assert wl["spec"]["podSets"][0]["name"] == "node"
    assert wl["spec"]["podSets"][0]["count"] == 2
    assert wl["status"]["admission"]["podSetAssignments"][0]["resourceUsage"] == {"cpu": "2"}
