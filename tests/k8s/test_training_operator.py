"""The fake training operator through the real client: PyTorchJobs run their
containers as local processes."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from typing import Any

import pytest
from kubernetes import client, watch

from . import manifests as m
from .cluster import FakeCluster
from .helpers import (
    G,
    P,
    V,
    conditions,
    events_for,
    job_condition,
    job_pods,
    pod_log,
    wait_for,
)

# -------------------- training operator


ENV_SCRIPT = (
    "import json, os, time; time.sleep(0.5); "
    "print(json.dumps({k: v for k, v in os.environ.items() if k in "
    "('RANK','WORLD_SIZE','MASTER_ADDR','MASTER_PORT','PET_NNODES','PET_NODE_RANK','PET_NPROC_PER_NODE',"
    "'PET_MASTER_ADDR','PET_MASTER_PORT','PYTHONUNBUFFERED','HOSTNAME')}))"
)


def test_pytorchjob_runs_created_running_succeeded(
    cluster: FakeCluster, core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    created = custom.create_namespaced_custom_object(
        G, V, "ml", P, m.pytorchjob("envjob", ["python", "-c", ENV_SCRIPT], workers=1)
    )
    rv = created["metadata"]["resourceVersion"]
    job = wait_for(lambda: job_condition(custom, "envjob", "Succeeded"), what="Succeeded")
    # Every condition transition, in order, through a watch from the create.
    seen: list[str] = []
    for event in watch.Watch().stream(
        custom.list_namespaced_custom_object, G, V, "ml", P, resource_version=rv, timeout_seconds=1
    ):
        for c in (event["object"].get("status") or {}).get("conditions") or []:
            if c["status"] == "True" and c["type"] not in seen:
                seen.append(c["type"])
    assert seen == ["Created", "Running", "Succeeded"]
    conds = conditions(job)
    assert conds["Created"]["reason"] == "PyTorchJobCreated"
    assert conds["Created"]["message"] == "PyTorchJob envjob is created."
    assert conds["Running"]["status"] == "False"  # Running turns False when the job finishes
    assert conds["Succeeded"]["reason"] == "PyTorchJobSucceeded"
    assert conds["Succeeded"]["message"] == "PyTorchJob envjob is successfully completed."
    assert job["status"]["replicaStatuses"]["Master"]["succeeded"] == 1
    assert job["status"]["replicaStatuses"]["Worker"]["succeeded"] == 1
    assert job["status"]["startTime"]
    assert job["status"]["completionTime"]

    pods = {p.metadata.name: p for p in job_pods(core, "envjob")}
    assert set(pods) == {"envjob-master-0", "envjob-worker-0"}
    master = pods["envjob-master-0"]
    assert master.metadata.labels["training.kubeflow.org/replica-type"] == "master"
    assert master.metadata.labels["training.kubeflow.org/job-role"] == "master"
    assert master.metadata.labels["training.kubeflow.org/operator-name"] == "pytorchjob-controller"
    assert master.metadata.labels["app"] == "labrig-test"
    assert master.metadata.owner_references[0].uid == job["metadata"]["uid"]
    assert master.status.phase == "Succeeded"
    term = master.status.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (0, "Completed")
    spec_env = {e.name: e.value for e in master.spec.containers[0].env}
    assert spec_env["MASTER_ADDR"] == "envjob-master-0"
    assert spec_env["MASTER_PORT"] == "23456"
    assert spec_env["PET_NPROC_PER_NODE"] == "auto"  # the v1.9 default

    envs = {name: json.loads(pod_log(core, name)) for name in pods}
    assert envs["envjob-master-0"]["RANK"] == "0"
    assert envs["envjob-worker-0"]["RANK"] == "1"
    for env in envs.values():
        assert env["WORLD_SIZE"] == "2"
        assert env["PET_NNODES"] == "2"
        assert env["MASTER_ADDR"] == env["PET_MASTER_ADDR"] == "127.0.0.1"
        assert env["PYTHONUNBUFFERED"] == "1"
    assert (
        envs["envjob-master-0"]["MASTER_PORT"] == envs["envjob-worker-0"]["MASTER_PORT"] != "23456"
    )
    # Through the plain client call too (its v36 bytes-repr quirk included).
    assert "RANK" in core.read_namespaced_pod_log("envjob-master-0", "ml")
    reasons = [e.reason for e in events_for(core, "envjob-master-0")]
    assert {"Scheduled", "Pulled", "Created", "Started"} <= set(reasons)
    assert cluster.errors == []


TORCH_SCRIPT = textwrap.dedent(
    """\
    import os, torch, torch.distributed as dist
    dist.init_process_group("gloo")
    t = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(t)
    print(f"rank {dist.get_rank()}/{dist.get_world_size()} sum {t.item()}", flush=True)
    assert t.item() == 3.0
    dist.destroy_process_group()
    """
)


def test_torchrun_gloo_allreduce_through_pytorchjob(
    cluster: FakeCluster, core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    core.create_namespaced_config_map("ml", m.configmap("train-script", {"train.py": TORCH_SCRIPT}))
    cmd = [
        "python", "-m", "torch.distributed.run",
        "--nnodes=2", "--nproc-per-node=1", "--node-rank=$(RANK)",
        "--master-addr=$(MASTER_ADDR)", "--master-port=$(MASTER_PORT)",
        "/opt/train/train.py",
    ]  # fmt: skip
    job = m.pytorchjob(
        "ddp",
        cmd,
        workers=1,
        nproc_per_node="1",
        env={"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"},
    )
    for rspec in job["spec"]["pytorchReplicaSpecs"].values():
        pod_spec = rspec["template"]["spec"]
        pod_spec["volumes"] = [{"name": "code", "configMap": {"name": "train-script"}}]
        pod_spec["containers"][0]["volumeMounts"] = [{"name": "code", "mountPath": "/opt/train"}]
    custom.create_namespaced_custom_object(G, V, "ml", P, job)

    def finished() -> Any:
        obj = custom.get_namespaced_custom_object(G, V, "ml", P, "ddp")
        c = conditions(obj)
        return (
            obj
            if any(c.get(t, {}).get("status") == "True" for t in ("Succeeded", "Failed"))
            else None
        )

    obj = wait_for(finished, timeout=150, what="ddp job to finish")
    logs = {p.metadata.name: pod_log(core, p.metadata.name) for p in job_pods(core, "ddp")}
    assert conditions(obj).get("Succeeded", {}).get("status") == "True", logs
    assert "rank 0/2 sum 3.0" in logs["ddp-master-0"]
    assert "rank 1/2 sum 3.0" in logs["ddp-worker-0"]


def test_killed_rank_fails_the_job(
    cluster: FakeCluster, core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    custom.create_namespaced_custom_object(
        G,
        V,
        "ml",
        P,
        m.pytorchjob("victim", ["python", "-c", "import time; time.sleep(60)"], workers=1),
    )
    wait_for(lambda: job_condition(custom, "victim", "Running"), what="Running")
    wait_for(lambda: "victim-worker-0" in cluster.pod_processes)
    os.kill(cluster.pod_processes["victim-worker-0"].pid, signal.SIGKILL)
    job = wait_for(lambda: job_condition(custom, "victim", "Failed"), what="Failed")
    failed = conditions(job)["Failed"]
    assert failed["reason"] == "PyTorchJobFailed"
    assert failed["message"] == "PyTorchJob victim is failed because 1 Worker replica(s) failed."
    worker = core.read_namespaced_pod("victim-worker-0", "ml")
    term = worker.status.container_statuses[0].state.terminated
    assert (worker.status.phase, term.exit_code, term.reason) == ("Failed", 137, "Error")
    # Deleting the job cascades to its pods, and the fake kubelet stops their processes.
    master_proc = cluster.pod_processes["victim-master-0"]
    custom.delete_namespaced_custom_object(G, V, "ml", P, "victim")
    assert job_pods(core, "victim") == []
    wait_for(lambda: master_proc.poll() is not None, timeout=10, what="master process to end")


def test_validating_webhook_of_the_operator(
    cluster: FakeCluster, custom: client.CustomObjectsApi
) -> None:
    job = m.pytorchjob("nopytorch", ["true"], workers=0)
    job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["name"] = (
        "main"
    )
    with pytest.raises(client.ApiException) as info:
        custom.create_namespaced_custom_object(G, V, "ml", P, job)
    assert info.value.status == 403
    assert json.loads(info.value.body)["message"] == (
        'admission webhook "validator.pytorchjob.training-operator.kubeflow.org" denied the '
        "request: "
        "spec.pytorchReplicaSpecs[Master].template.spec.containers: Required value: must have at "
        "least one container with name pytorch"
    )
