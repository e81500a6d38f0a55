"""The fake cluster (Kueue, training operator, trainer, scheduler, kubelet) through the
real client: jobs run their containers as local processes."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from . import manifests as m
from .cluster import FakeCluster, Node
from .emulator import ApiEmulator

G, V, P = "kubeflow.org", "v1", "pytorchjobs"
TG, TV, TP = "trainer.kubeflow.org", "v1alpha1", "trainjobs"
PY = m.PYTHON


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def job_condition(
    custom: client.CustomObjectsApi, name: str, ctype: str, status: str = "True"
) -> Any:
    job = custom.get_namespaced_custom_object(G, V, "ml", P, name)
    cond = conditions(job).get(ctype)
    return job if cond and cond["status"] == status else None


def pod_log(core: client.CoreV1Api, name: str, **kw: Any) -> str:
    # kubernetes 36 returns the repr of bytes from read_namespaced_pod_log (client issue
    # #2596), so read the raw response.
    resp = core.read_namespaced_pod_log(name, "ml", _preload_content=False, **kw)
    return str(resp.data.decode())


def job_pods(core: client.CoreV1Api, job: str) -> list[client.V1Pod]:
    return list(
        core.list_namespaced_pod("ml", label_selector=f"training.kubeflow.org/job-name={job}").items
    )


def events_for(core: client.CoreV1Api, name: str) -> list[client.CoreV1Event]:
    return list(
        core.list_namespaced_event("ml", field_selector=f"involvedObject.name={name}").items
    )


@pytest.fixture
def gpu_cluster(emu: ApiEmulator, tmp_path: Path) -> Iterator[FakeCluster]:
    fake = FakeCluster(
        emu,
        tmp_path / "gpu-cluster",
        nodes=[Node("gpu-1", cpu="8", memory="32Gi", gpus={"nvidia.com/gpu": 2})],
        poll=0.05,
    )
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


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


# -------------------- Kueue


def workload_of(custom: client.CustomObjectsApi, job_uid: str) -> dict[str, Any] | None:
    items = custom.list_namespaced_custom_object(
        "kueue.x-k8s.io",
        "v1beta2",
        "ml",
        "workloads",
        label_selector=f"kueue.x-k8s.io/job-uid={job_uid}",
    )["items"]
    return items[0] if items else None


def test_kueue_holds_over_quota_and_admits_when_the_first_finishes(
    gpu_cluster: FakeCluster, core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    gpu_cluster.add_queue(
        "team", "ml-queue", "ml", "default", {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"}
    )
    gpus = {"limits": {"nvidia.com/gpu": 2}}
    first = custom.create_namespaced_custom_object(
        G,
        V,
        "ml",
        P,
        m.pytorchjob(
            "first",
            ["python", "-c", "import time; time.sleep(1.5)"],
            workers=0,
            queue="ml-queue",
            resources=gpus,
        ),
    )
    assert first["spec"]["runPolicy"]["suspend"] is True  # Kueue's webhook suspends queued jobs
    wait_for(lambda: job_condition(custom, "first", "Running"), what="first running")
    second = custom.create_namespaced_custom_object(
        G,
        V,
        "ml",
        P,
        m.pytorchjob(
            "second",
            ["python", "-c", "print('second ran')"],
            workers=0,
            queue="ml-queue",
            resources=gpus,
        ),
    )

    def pending_message() -> str | None:
        wl = workload_of(custom, second["metadata"]["uid"])
        cond = conditions(wl or {}).get("QuotaReserved")
        return cond["message"] if cond and cond["status"] == "False" else None

    assert wait_for(pending_message) == (
        "couldn't assign flavors to pod set master: insufficient unused quota for nvidia.com/gpu "
        "in flavor default, 2 more needed"
    )
    wl = workload_of(custom, second["metadata"]["uid"])
    assert wl is not None
    assert conditions(wl)["QuotaReserved"]["reason"] == "Pending"
    assert wl["metadata"]["ownerReferences"][0]["uid"] == second["metadata"]["uid"]
    assert wl["metadata"]["name"].startswith("pytorchjob-second-")
    assert [ps["name"] for ps in wl["spec"]["podSets"]] == ["master"]
    sjob = custom.get_namespaced_custom_object(G, V, "ml", P, "second")
    assert conditions(sjob)["Suspended"]["status"] == "True"
    assert conditions(sjob)["Suspended"]["reason"] == "PyTorchJobSuspended"
    assert job_pods(core, "second") == []
    cq = custom.get_cluster_custom_object("kueue.x-k8s.io", "v1beta2", "clusterqueues", "team")
    assert cq["status"]["pendingWorkloads"] == 1
    assert cq["status"]["admittedWorkloads"] == 1

    wait_for(lambda: job_condition(custom, "first", "Succeeded"), what="first done")
    first_wl = workload_of(custom, first["metadata"]["uid"])
    assert first_wl is not None
    assert conditions(first_wl)["Finished"]["reason"] == "Succeeded"
    job = wait_for(lambda: job_condition(custom, "second", "Succeeded"), what="second done")
    wl = workload_of(custom, second["metadata"]["uid"])
    assert wl is not None
    assert conditions(wl)["Admitted"]["status"] == "True"
    assert conditions(wl)["QuotaReserved"]["message"] == "Quota reserved in ClusterQueue team"
    assert wl["status"]["admission"]["podSetAssignments"][0]["resourceUsage"] == {
        "nvidia.com/gpu": "2"
    }
    assert conditions(job)["Suspended"]["status"] == "False"
    assert pod_log(core, "second-master-0") == "second ran\n"


def test_kueue_unknown_local_queue(cluster: FakeCluster, custom: client.CustomObjectsApi) -> None:
    job = custom.create_namespaced_custom_object(
        G, V, "ml", P, m.pytorchjob("lost", ["true"], workers=0, queue="nope")
    )

    def message() -> str | None:
        cond = conditions(workload_of(custom, job["metadata"]["uid"]) or {}).get("QuotaReserved")
        return cond["message"] if cond else None

    assert wait_for(message) == "LocalQueue nope doesn't exist"


def test_kueue_priority_order(gpu_cluster: FakeCluster, custom: client.CustomObjectsApi) -> None:
    gpu_cluster.priority_classes = {"high": 1000, "low": 10}
    gpu_cluster.add_queue(quota={"cpu": "1", "memory": "1Gi"})
    one_cpu = {"requests": {"cpu": "1"}}
    hog = m.pytorchjob(
        "hog",
        [PY, "-c", "import time; time.sleep(1)"],
        workers=0,
        queue="ml-queue",
        resources=one_cpu,
    )
    custom.create_namespaced_custom_object(G, V, "ml", P, hog)
    wait_for(lambda: job_condition(custom, "hog", "Running"))
    rv = custom.list_namespaced_custom_object(G, V, "ml", P)["metadata"]["resourceVersion"]
    for name in ("low", "high"):  # the low-priority job queues first
        job = m.pytorchjob(
            name, ["true"], workers=0, queue="ml-queue", priority_class=name, resources=one_cpu
        )
        custom.create_namespaced_custom_object(G, V, "ml", P, job)
    wait_for(lambda: job_condition(custom, "low", "Succeeded"), what="low done")
    unsuspended: list[str] = []
    events = watch.Watch().stream(
        custom.list_namespaced_custom_object, G, V, "ml", P, resource_version=rv, timeout_seconds=1
    )
    for event in events:
        obj = event["object"]
        if (
            obj["spec"]["runPolicy"]["suspend"] is False
            and obj["metadata"]["name"] not in unsuspended
        ):
            unsuspended.append(obj["metadata"]["name"])
    assert [n for n in unsuspended if n != "hog"] == ["high", "low"]
    wl = workload_of(
        custom, custom.get_namespaced_custom_object(G, V, "ml", P, "high")["metadata"]["uid"]
    )
    assert wl is not None
    assert wl["spec"]["priority"] == 1000
    assert wl["spec"]["priorityClassRef"] == {
        "group": "kueue.x-k8s.io",
        "kind": "WorkloadPriorityClass",
        "name": "high",
    }


def test_rejected_pod_creation_is_retried(
    cluster: FakeCluster, core: client.CoreV1Api, custom: client.CustomObjectsApi, emu: ApiEmulator
) -> None:
    emu.reject_create(
        "pods", "exceeded quota: team-quota, requested: pods=1, used: pods=1, limited: pods=1"
    )
    custom.create_namespaced_custom_object(
        G, V, "ml", P, m.pytorchjob("blocked", ["true"], workers=0)
    )
    event = wait_for(
        lambda: [e for e in events_for(core, "blocked") if e.reason == "FailedCreatePod"]
    )[0]
    assert event.message == (
        'Error creating: pods "blocked-master-0" is forbidden: exceeded quota: team-quota, '
        "requested: pods=1, used: pods=1, limited: pods=1"
    )
    assert job_pods(core, "blocked") == []
    emu.reset_faults()
    wait_for(
        lambda: job_condition(custom, "blocked", "Succeeded"), what="job after the quota is lifted"
    )


# -------------------- scheduler and kubelet


@pytest.mark.parametrize("resource", ["nvidia.com/gpu", "example.com/gpu"])
def test_unschedulable_gpu_pod(cluster: FakeCluster, core: client.CoreV1Api, resource: str) -> None:
    core.create_namespaced_pod("ml", m.pod("gpu", ["true"], resources={"limits": {resource: 1}}))
    message = (
        f"0/1 nodes are available: 1 Insufficient {resource}. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )

    def scheduled_condition() -> Any:
        pod = core.read_namespaced_pod("gpu", "ml")
        return next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)

    cond = wait_for(scheduled_condition)
    assert (cond.status, cond.reason, cond.message) == ("False", "Unschedulable", message)
    event = wait_for(
        lambda: [e for e in events_for(core, "gpu") if e.reason == "FailedScheduling"]
    )[0]
    assert (event.type, event.message, event.involved_object.kind) == ("Warning", message, "Pod")
    assert event.reporting_component == "default-scheduler"
    assert core.read_namespaced_pod("gpu", "ml").status.phase == "Pending"
    # The node list tells a backend nobody offers the resource.
    assert all(resource not in (n.status.allocatable or {}) for n in core.list_node().items)
    # A pod without a node has no log yet: the API server answers an empty body.
    assert pod_log(core, "gpu") == ""


def test_unpullable_image(cluster: FakeCluster, core: client.CoreV1Api) -> None:
    cluster.unpullable_images.add("registry.example/missing:1")
    pod = m.pod("nopull", ["true"])
    pod["spec"]["containers"][0]["image"] = "registry.example/missing:1"
    core.create_namespaced_pod("ml", pod)

    def waiting(reason: str) -> Any:
        p = core.read_namespaced_pod("nopull", "ml")
        st = (p.status.container_statuses or [None])[0]
        return (
            st.state.waiting
            if st and st.state.waiting and st.state.waiting.reason == reason
            else None
        )

    err = wait_for(lambda: waiting("ErrImagePull") or waiting("ImagePullBackOff"))
    assert "registry.example/missing:1" in err.message
    backoff = wait_for(lambda: waiting("ImagePullBackOff"))
    assert backoff.message == 'Back-off pulling image "registry.example/missing:1"'
    assert core.read_namespaced_pod("nopull", "ml").status.phase == "Pending"
    messages = {(e.reason, e.message) for e in events_for(core, "nopull")}
    assert ("Failed", "Error: ErrImagePull") in messages
    assert ("BackOff", 'Back-off pulling image "registry.example/missing:1"') in messages
    with pytest.raises(client.ApiException) as info:
        pod_log(core, "nopull")
    assert info.value.status == 400
    assert json.loads(info.value.body)["message"] == (
        'container "main" in pod "nopull" is waiting to start: trying and failing to pull image'
    )


def test_oom_killed(cluster: FakeCluster, core: client.CoreV1Api) -> None:
    hog = (
        "import time; x = bytearray(400 * 1024 * 1024); x[::4096] = b'x' * len(x[::4096]); "
        "print('allocated', flush=True); time.sleep(30)"
    )
    core.create_namespaced_pod(
        "ml", m.pod("hog", ["python", "-c", hog], resources={"limits": {"memory": "128Mi"}})
    )

    def terminated() -> Any:
        p = core.read_namespaced_pod("hog", "ml")
        st = (p.status.container_statuses or [None])[0]
        return p if st and st.state.terminated else None

    pod = wait_for(terminated, timeout=30)
    term = pod.status.container_statuses[0].state.terminated
    assert (pod.status.phase, term.exit_code, term.reason) == ("Failed", 137, "OOMKilled")


def test_eviction(cluster: FakeCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(
        "ml",
        m.pod("evictee", ["python", "-c", "import time; print('up', flush=True); time.sleep(60)"]),
    )
    wait_for(lambda: core.read_namespaced_pod("evictee", "ml").status.phase == "Running")
    proc = cluster.pod_processes["evictee"]
    message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."
    cluster.evict("evictee", "ml", message=message)
    pod = core.read_namespaced_pod("evictee", "ml")
    assert (pod.status.phase, pod.status.reason, pod.status.message) == (
        "Failed",
        "Evicted",
        message,
    )
    assert proc.poll() is not None
    assert any(e.reason == "Evicted" and e.message == message for e in events_for(core, "evictee"))
    time.sleep(0.3)
    assert core.read_namespaced_pod("evictee", "ml").status.reason == "Evicted"


def test_follow_logs_volumes_and_env_sources(
    cluster: FakeCluster, core: client.CoreV1Api, tmp_path: Path
) -> None:
    core.create_namespaced_config_map(
        "ml", m.configmap("settings", {"greeting": "hello", "conf.txt": "from-file"})
    )
    core.create_namespaced_secret(
        "ml", {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}}
    )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "input.txt").write_text("pvc-content")
    cluster.pvc_paths["data"] = data_dir
    script = (
        "import os, time\n"
        "print(os.environ['GREETING'], os.environ['TOKEN'], os.environ['POD'], os.environ['IP'], "
        "flush=True)\n"
        "print(open('/etc/app/conf.txt').read(), open(os.environ['DATA'] + '/input.txt').read(), "
        "flush=True)\n"
        "open('/scratch/out', 'w').write('x'); print(os.path.exists('/scratch/out'), flush=True)\n"
        "time.sleep(0.5); print('done', flush=True)\n"
    )
    pod = m.pod("reader", ["python", "-c", script])
    c = pod["spec"]["containers"][0]
    c["env"] = [
        {
            "name": "GREETING",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}},
        },
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "DATA", "value": "/mnt/data"},
    ]
    c["volumeMounts"] = [
        {"name": "cfg", "mountPath": "/etc/app"},
        {"name": "data", "mountPath": "/mnt/data"},
        {"name": "scratch", "mountPath": "/scratch"},
    ]
    pod["spec"]["volumes"] = [
        {"name": "cfg", "configMap": {"name": "settings"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "scratch", "emptyDir": {}},
    ]
    core.create_namespaced_pod("ml", pod)
    wait_for(
        lambda: (
            core.read_namespaced_pod("reader", "ml").status.phase
            in ("Running", "Succeeded", "Failed")
        )
    )
    resp = core.read_namespaced_pod_log("reader", "ml", follow=True, _preload_content=False)
    streamed = b"".join(resp.stream()).decode()
    assert streamed == "hello s3cret reader 127.0.0.1\nfrom-file pvc-content\nTrue\ndone\n"
    assert core.read_namespaced_pod("reader", "ml").status.phase == "Succeeded"
    assert pod_log(core, "reader", tail_lines=1) == "done\n"
    stamped = pod_log(core, "reader", timestamps=True).splitlines()[0]
    assert stamped.endswith(" hello s3cret reader 127.0.0.1")
    assert stamped[:4].isdigit()


def test_missing_configmap_is_a_config_error(cluster: FakeCluster, core: client.CoreV1Api) -> None:
    pod = m.pod("noconf", ["true"])
    pod["spec"]["containers"][0]["env"] = [
        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}
    ]
    core.create_namespaced_pod("ml", pod)

    def waiting() -> Any:
        st = (core.read_namespaced_pod("noconf", "ml").status.container_statuses or [None])[0]
        return (
            st.state.waiting
            if st and st.state.waiting and st.state.waiting.reason == "CreateContainerConfigError"
            else None
        )

    assert wait_for(waiting).message == 'configmap "absent" not found'


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
