"""The fake scheduler and kubelet through the real client: scheduling, image pulls,
OOM, eviction, logs, volumes and env sources."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from . import manifests as m
from .cluster import FakeCluster
from .helpers import (
    events_for,
    pod_log,
    wait_for,
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


def test_slow_pull_keeps_the_container_creating_then_runs(
    cluster: FakeCluster, core: client.CoreV1Api
) -> None:
    cluster.slow_pulls["registry.example/big:1"] = 1.0
    pod = m.pod("slow", ["true"])
    pod["spec"]["containers"][0]["image"] = "registry.example/big:1"
    began = time.monotonic()
    core.create_namespaced_pod("ml", pod)
    wait_for(lambda: [e for e in events_for(core, "slow") if e.reason == "Pulling"])
    status = core.read_namespaced_pod("slow", "ml").status
    assert status.phase == "Pending"
    assert status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    wait_for(lambda: core.read_namespaced_pod("slow", "ml").status.phase == "Succeeded")
    assert time.monotonic() - began >= 1.0


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
