"""The API emulator over HTTP: RBAC denials, tokens, admission rejections, quota,
uninstalled CRDs, discovery, request records and a large list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client, watch

from . import manifests as m
from .emulator import ApiEmulator, api_client_for
from .helpers import G, P, V, create_job, status_of

# -------------------- faults


def test_rbac_denial_message(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, emu: ApiEmulator
) -> None:
    emu.deny("create", "pytorchjobs", group="kubeflow.org")
    with pytest.raises(client.ApiException) as info:
        create_job(custom, "j")
    body = status_of(info.value)
    assert info.value.status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        'pytorchjobs.kubeflow.org is forbidden: User "system:serviceaccount:ml:labrig" cannot '
        "create "
        'resource "pytorchjobs" in API group "kubeflow.org" in the namespace "ml"'
    )
    emu.deny("get", "pods/log")
    core.create_namespaced_pod("ml", m.pod("p", ["true"]))
    with pytest.raises(client.ApiException) as info:
        core.read_namespaced_pod_log("p", "ml")
    assert status_of(info.value)["message"] == (
        'pods "p" is forbidden: User "system:serviceaccount:ml:labrig" cannot get resource '
        '"pods/log" '
        'in API group "" in the namespace "ml"'
    )
    emu.deny("list", "nodes")
    with pytest.raises(client.ApiException) as info:
        core.list_node()
    assert status_of(info.value)["message"].endswith(
        'cannot list resource "nodes" in API group "" at the cluster scope'
    )
    emu.reset_faults()
    create_job(custom, "j")


def test_unauthorized_and_expired_tokens(
    emu: ApiEmulator, tmp_path: Path, core: client.CoreV1Api
) -> None:
    bad = api_client_for(emu.kubeconfig(tmp_path / "bad", token="wrong"))
    with pytest.raises(client.ApiException) as info:
        client.CoreV1Api(bad).list_namespaced_pod("ml")
    body = status_of(info.value)
    assert info.value.status == 401
    assert body["reason"] == "Unauthorized"
    assert body["message"] == "Unauthorized"
    core.list_namespaced_pod("ml")
    new_token = emu.expire_tokens()
    with pytest.raises(client.ApiException) as info:
        core.list_namespaced_pod("ml")
    assert info.value.status == 401
    fresh = api_client_for(emu.kubeconfig(tmp_path / "fresh"))
    assert emu.token == new_token
    client.CoreV1Api(fresh).list_namespaced_pod("ml")


def test_reject_create_like_a_quota(custom: client.CustomObjectsApi, emu: ApiEmulator) -> None:
    emu.reject_create(
        "pytorchjobs",
        "exceeded quota: team-quota, requested: requests.nvidia.com/gpu=2, used: "
        "requests.nvidia.com/gpu=0, "
        "limited: requests.nvidia.com/gpu=1",
    )
    with pytest.raises(client.ApiException) as info:
        create_job(custom, "big")
    body = status_of(info.value)
    assert info.value.status == 403
    assert body["message"] == (
        'pytorchjobs.kubeflow.org "big" is forbidden: exceeded quota: team-quota, requested: '
        "requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=0, limited: "
        "requests.nvidia.com/gpu=1"
    )


def test_resource_quota_admission(core: client.CoreV1Api) -> None:
    core.create_namespaced_resource_quota(
        "ml",
        {"metadata": {"name": "team-quota"}, "spec": {"hard": {"requests.nvidia.com/gpu": "1"}}},
    )
    with pytest.raises(client.ApiException) as info:
        core.create_namespaced_pod(
            "ml", m.pod("g", ["true"], resources={"limits": {"nvidia.com/gpu": 2}})
        )
    assert info.value.status == 403
    assert status_of(info.value)["message"] == (
        'pods "g" is forbidden: exceeded quota: team-quota, requested: requests.nvidia.com/gpu=2, '
        "used: requests.nvidia.com/gpu=0, limited: requests.nvidia.com/gpu=1"
    )


def test_uninstalled_crd_is_404_on_paths_and_discovery(
    custom: client.CustomObjectsApi, api: client.ApiClient, emu: ApiEmulator
) -> None:
    emu.uninstall("kubeflow.org", "v1", "pytorchjobs")
    with pytest.raises(client.ApiException) as info:
        create_job(custom, "j")
    body = status_of(info.value)
    assert info.value.status == 404
    assert body["message"] == "the server could not find the requested resource"
    with pytest.raises(client.ApiException) as info:
        custom.get_api_resources("kubeflow.org", "v1")
    assert info.value.status == 404
    groups = [g.name for g in client.ApisApi(api).get_api_versions().groups]
    assert "kubeflow.org" not in groups
    assert "kueue.x-k8s.io" in groups
    emu.install("kubeflow.org", "v1", "pytorchjobs")
    create_job(custom, "j")


# -------------------- discovery, requests, scale


def test_discovery(api: client.ApiClient, custom: client.CustomObjectsApi) -> None:
    core_res = client.CoreV1Api(api).get_api_resources()
    names = {r.name: r for r in core_res.resources}
    assert {
        "pods",
        "pods/log",
        "pods/status",
        "configmaps",
        "events",
        "nodes",
        "namespaces",
        "persistentvolumeclaims",
    } <= set(names)
    assert names["pods"].namespaced
    assert not names["nodes"].namespaced
    assert "watch" in names["pods"].verbs
    kueue = next(
        g for g in client.ApisApi(api).get_api_versions().groups if g.name == "kueue.x-k8s.io"
    )
    assert kueue.preferred_version.version == "v1beta2"
    assert {v.version for v in kueue.versions} == {"v1beta1", "v1beta2"}
    res = custom.get_api_resources("kueue.x-k8s.io", "v1beta2")
    cq = next(r for r in res.resources if r.name == "clusterqueues")
    assert cq.kind == "ClusterQueue"
    assert cq.namespaced is False
    assert client.VersionApi(api).get_code().major == "1"


def test_request_records(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, emu: ApiEmulator
) -> None:
    emu.clear_requests()
    create_job(custom, "j")
    custom.list_namespaced_custom_object(G, V, "ml", P)
    list(watch.Watch().stream(core.list_namespaced_pod, "ml", timeout_seconds=1))
    assert emu.count("POST", "pytorchjobs") == 1
    assert emu.count("GET", "pytorchjobs", watch=False) == 1
    assert emu.count(resource="pods", watch=True) == 1
    rec = emu.requests[-1]
    assert (rec.method, rec.resource, rec.verb, rec.status, rec.watch) == (
        "GET",
        "pods",
        "watch",
        200,
        True,
    )
    assert rec.query["timeoutSeconds"] == "1"


def test_thousand_pytorchjobs_list_in_one_request(
    custom: client.CustomObjectsApi, emu: ApiEmulator
) -> None:
    base = m.pytorchjob(
        "x",
        ["python", "-c", "print('hello')" + " " * 400],
        workers=3,
        env={f"VAR_{i}": "v" * 40 for i in range(30)},
    )
    size = len(json.dumps(base))
    assert 3000 < size < 6000
    for i in range(1000):
        base["metadata"]["name"] = f"job-{i:04d}"
        emu.store.create(P + "." + G, base, "ml")
    emu.clear_requests()
    # How fast is the benchmark's business (bench/bench_k8s_jobs.py), not a timed test's.
    listed = custom.list_namespaced_custom_object(G, V, "ml", P)
    assert len(listed["items"]) == 1000
    assert emu.count("GET", "pytorchjobs") == 1
