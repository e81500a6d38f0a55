"""Fake Kueue through the real client: queueing, quota, priority, admission."""

from __future__ import annotations

from kubernetes import client, watch

from . import manifests as m
from .cluster import FakeCluster
from .emulator import ApiEmulator
from .helpers import (
    PY,
    G,
    P,
    V,
    conditions,
    events_for,
    job_condition,
    job_pods,
    pod_log,
    wait_for,
    workload_of,
)

# -------------------- Kueue


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
            ["python", "-c", "import time; time.sleep(6)"],  # outlasts the checks below
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
    # Kueue marks the Workload Finished after it sees the job succeed: wait for it, not race it.
    finished = wait_for(
        lambda: conditions(workload_of(custom, first["metadata"]["uid"]) or {}).get("Finished"),
        what="first workload finished",
    )
    assert finished["reason"] == "Succeeded"
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
