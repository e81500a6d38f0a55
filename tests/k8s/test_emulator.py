"""The API emulator through the real ``kubernetes`` client over HTTP."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from . import manifests as m
from .emulator import ApiEmulator, api_client_for

G, V, P = "kubeflow.org", "v1", "pytorchjobs"


def status_of(exc: client.ApiException) -> dict[str, Any]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == exc.status
    return body


def create_job(custom: client.CustomObjectsApi, name: str, **kw: Any) -> dict[str, Any]:
    job: dict[str, Any] = custom.create_namespaced_custom_object(
        G, V, "ml", P, m.pytorchjob(name, ["true"], **kw)
    )
    return job


# -------------------- CRUD


def test_create_returns_201_with_server_fields(
    core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    pod, code, _ = core.create_namespaced_pod_with_http_info("ml", m.pod("p1", ["true"]))
    assert code == 201
    assert pod.metadata.uid
    assert pod.metadata.resource_version
    assert pod.metadata.creation_timestamp
    assert pod.metadata.namespace == "ml"
    assert pod.status.phase == "Pending"
    assert pod.spec.restart_policy == "Never"
    assert pod.spec.scheduler_name == "default-scheduler"

    job, code, _ = custom.create_namespaced_custom_object_with_http_info(
        G, V, "ml", P, m.pytorchjob("j1", ["true"])
    )
    assert code == 201
    meta = job["metadata"]
    assert meta["generation"] == 1
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert job["kind"] == "PyTorchJob"
    assert job["apiVersion"] == "kubeflow.org/v1"
    assert int(meta["resourceVersion"]) > int(pod.metadata.resource_version)
    # Structural defaults of the CRD are applied, like a real server does.
    ports = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0].get(
        "ports"
    )
    assert ports is None
    got = custom.get_namespaced_custom_object(G, V, "ml", P, "j1")
    assert got["metadata"]["resourceVersion"] == meta["resourceVersion"]


def test_generate_name(core: client.CoreV1Api) -> None:
    body = m.configmap("", {"a": "b"})
    body["metadata"] = {"generateName": "cfg-"}
    cm = core.create_namespaced_config_map("ml", body)
    assert cm.metadata.name.startswith("cfg-")
    assert len(cm.metadata.name) == 9


def test_already_exists_not_found_and_missing_namespace(
    core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    create_job(custom, "dup")
    with pytest.raises(client.ApiException) as info:
        create_job(custom, "dup")
    body = status_of(info.value)
    assert info.value.status == 409
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'pytorchjobs.kubeflow.org "dup" already exists'
    assert body["details"] == {"name": "dup", "group": "kubeflow.org", "kind": "pytorchjobs"}

    with pytest.raises(client.ApiException) as info:
        custom.get_namespaced_custom_object(G, V, "ml", P, "nope")
    body = status_of(info.value)
    assert info.value.status == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == 'pytorchjobs.kubeflow.org "nope" not found'
    with pytest.raises(client.ApiException) as info:
        core.read_namespaced_pod("nope", "ml")
    assert status_of(info.value)["message"] == 'pods "nope" not found'

    with pytest.raises(client.ApiException) as info:
        core.create_namespaced_config_map("ghost", m.configmap("c", {}))
    assert info.value.status == 404
    assert status_of(info.value)["message"] == 'namespaces "ghost" not found'


def test_update_conflict_on_stale_resource_version(custom: client.CustomObjectsApi) -> None:
    job = create_job(custom, "j")
    fresh = custom.patch_namespaced_custom_object(
        G, V, "ml", P, "j", {"metadata": {"labels": {"x": "1"}}}
    )
    assert int(fresh["metadata"]["resourceVersion"]) > int(job["metadata"]["resourceVersion"])
    job["metadata"]["labels"] = {"y": "2"}
    with pytest.raises(client.ApiException) as info:
        custom.replace_namespaced_custom_object(G, V, "ml", P, "j", job)
    body = status_of(info.value)
    assert info.value.status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on pytorchjobs.kubeflow.org "j": the object has been '
        "modified; "
        "please apply your changes to the latest version and try again"
    )
    fresh["metadata"]["labels"] = {"y": "2"}
    updated = custom.replace_namespaced_custom_object(G, V, "ml", P, "j", fresh)
    assert updated["metadata"]["labels"] == {"y": "2"}
    assert updated["metadata"]["generation"] == 1  # metadata changes do not bump generation


def test_generation_and_status_subresource(custom: client.CustomObjectsApi) -> None:
    job = create_job(custom, "j")
    job["spec"]["runPolicy"] = {"suspend": True}
    job["status"] = {"conditions": [{"type": "Created", "status": "True"}]}
    job = custom.replace_namespaced_custom_object(G, V, "ml", P, "j", job)
    assert job["metadata"]["generation"] == 2
    assert "status" not in job  # the main resource ignores status
    job["status"] = {"conditions": [{"type": "Created", "status": "True"}]}
    job["spec"]["runPolicy"] = {"suspend": False}
    job = custom.replace_namespaced_custom_object_status(G, V, "ml", P, "j", job)
    assert job["status"]["conditions"][0]["type"] == "Created"
    assert job["spec"]["runPolicy"] == {"suspend": True}  # /status ignores spec
    assert job["metadata"]["generation"] == 2
    patched = custom.patch_namespaced_custom_object_status(
        G, V, "ml", P, "j", {"status": {"startTime": "2025-01-01T00:00:00Z"}}
    )
    assert patched["status"]["startTime"] == "2025-01-01T00:00:00Z"
    with pytest.raises(client.ApiException) as info:
        custom.patch_namespaced_custom_object_status(
            G, V, "ml", P, "j", {"status": {"conditions": [{"type": "Created"}], "bogus": 1}}
        )
    assert status_of(info.value)["message"] == (
        'PyTorchJob.kubeflow.org "j" is invalid: '
        "[status.bogus: unknown field, status.conditions[0].status: Required value]"
    )


def test_patch_types(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, api: client.ApiClient
) -> None:
    create_job(custom, "j")
    # merge patch (the client's default for custom objects)
    job = custom.patch_namespaced_custom_object(
        G, V, "ml", P, "j", {"spec": {"runPolicy": {"suspend": True}}}
    )
    assert job["spec"]["runPolicy"]["suspend"] is True
    # json patch (CustomObjectsApi only declares merge patch: name the content type)
    job = custom.patch_namespaced_custom_object(
        G,
        V,
        "ml",
        P,
        "j",
        [{"op": "replace", "path": "/spec/runPolicy/suspend", "value": False}],
        _content_type="application/json-patch+json",
    )
    assert job["spec"]["runPolicy"]["suspend"] is False
    # strategic merge patch is not accepted for custom resources
    with pytest.raises(client.ApiException) as info:
        custom.patch_namespaced_custom_object(
            G,
            V,
            "ml",
            P,
            "j",
            {"metadata": {"labels": {"a": "b"}}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert info.value.status == 415
    # strategic merge patch on a core kind merges lists by key
    core.create_namespaced_pod("ml", m.pod("p", ["true"]))
    pod = core.patch_namespaced_pod(
        "p",
        "ml",
        {
            "metadata": {"labels": {"k": "v"}},
            "spec": {"containers": [{"name": "main", "image": "other:2"}]},
        },
    )
    assert pod.metadata.labels == {"k": "v"}
    assert [(c.name, c.image, c.command) for c in pod.spec.containers] == [
        ("main", "other:2", ["true"])
    ]
    # a patch that breaks the schema is rejected with the field path
    with pytest.raises(client.ApiException) as info:
        custom.patch_namespaced_custom_object(G, V, "ml", P, "j", {"spec": {"bogus": 1}})
    assert info.value.status == 422
    assert (
        status_of(info.value)["message"]
        == 'PyTorchJob.kubeflow.org "j" is invalid: spec.bogus: unknown field'
    )


def test_server_side_apply(custom: client.CustomObjectsApi) -> None:
    body = m.pytorchjob("applied", ["true"])
    _, code, _ = custom.patch_namespaced_custom_object_with_http_info(
        G,
        V,
        "ml",
        P,
        "applied",
        body,
        field_manager="labrig",
        _content_type="application/apply-patch+yaml",
    )
    assert code == 201  # created (the client maps only 200 to a body)
    created = custom.get_namespaced_custom_object(G, V, "ml", P, "applied")
    body["metadata"]["labels"] = {"v": "2"}
    again = custom.patch_namespaced_custom_object(
        G,
        V,
        "ml",
        P,
        "applied",
        body,
        field_manager="labrig",
        _content_type="application/apply-patch+yaml",
    )
    assert again["metadata"]["labels"] == {"v": "2"}
    assert again["metadata"]["uid"] == created["metadata"]["uid"]


# -------------------- validation over HTTP


def test_unknown_field_is_422_with_path(custom: client.CustomObjectsApi) -> None:
    job = m.pytorchjob("bad", ["true"])
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["foo"] = 1
    with pytest.raises(client.ApiException) as info:
        custom.create_namespaced_custom_object(G, V, "ml", P, job)
    body = status_of(info.value)
    assert info.value.status == 422
    assert body["reason"] == "Invalid"
    path = "spec.pytorchReplicaSpecs.Worker.template.spec.containers[0].foo"
    assert body["message"] == f'PyTorchJob.kubeflow.org "bad" is invalid: {path}: unknown field'
    assert body["details"]["kind"] == "PyTorchJob"
    assert body["details"]["causes"][0]["field"] == path


def test_core_kinds_are_validated_too(core: client.CoreV1Api) -> None:
    with pytest.raises(client.ApiException) as info:
        core.create_namespaced_config_map(
            "ml",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c", "labels": {"bad key!": "x"}},
            },
        )
    assert info.value.status == 422
    assert status_of(info.value)["message"].startswith(
        'ConfigMap "c" is invalid: metadata.labels: Invalid value: "bad key!"'
    )
    with pytest.raises(client.ApiException) as info:
        core.create_namespaced_config_map("ml", m.configmap("Bad_Name", {}))
    assert "a lowercase RFC 1123 subdomain" in status_of(info.value)["message"]


# -------------------- selectors, pagination


def test_label_selectors_every_form(core: client.CoreV1Api) -> None:
    labels = {
        "a": {"env": "prod", "tier": "web"},
        "b": {"env": "dev", "tier": "db"},
        "c": {"env": "test"},
        "d": {},
    }
    for name, lab in labels.items():
        body = m.configmap(name, {})
        body["metadata"]["labels"] = lab
        core.create_namespaced_config_map("ml", body)

    def names(selector: str) -> list[str]:
        return [
            c.metadata.name
            for c in core.list_namespaced_config_map("ml", label_selector=selector).items
        ]

    assert names("env=prod") == ["a"]
    assert names("env==prod") == ["a"]
    assert names("env!=prod") == ["b", "c", "d"]
    assert names("env in (prod, dev)") == ["a", "b"]
    assert names("env notin (prod)") == ["b", "c", "d"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c", "d"]
    assert names("env in (prod,dev),tier!=db") == ["a"]
    with pytest.raises(client.ApiException) as info:
        names("env in prod")
    assert info.value.status == 400


def test_field_selectors(core: client.CoreV1Api, emu: ApiEmulator) -> None:
    for name in ("x", "y"):
        core.create_namespaced_pod("ml", m.pod(name, ["true"]))
    emu.store.mutate(
        "pods", "ml", "y", lambda p: p["status"].update(phase="Running"), subresource="status"
    )
    assert [
        p.metadata.name
        for p in core.list_namespaced_pod("ml", field_selector="metadata.name=x").items
    ] == ["x"]
    assert [
        p.metadata.name
        for p in core.list_namespaced_pod("ml", field_selector="status.phase=Running").items
    ] == ["y"]
    assert [
        p.metadata.name
        for p in core.list_pod_for_all_namespaces(field_selector="status.phase!=Running").items
    ] == ["x"]
    pod = core.read_namespaced_pod("x", "ml")
    core.create_namespaced_event(
        "ml",
        {
            "metadata": {"name": "x.1"},
            "involvedObject": {
                "kind": "Pod",
                "name": "x",
                "namespace": "ml",
                "uid": pod.metadata.uid,
            },
            "reason": "FailedScheduling",
            "message": "nope",
            "type": "Warning",
        },
    )
    sel = (
        "involvedObject.kind=Pod,involvedObject.name=x,"
        f"involvedObject.uid={pod.metadata.uid},reason=FailedScheduling"
    )
    assert [
        e.metadata.name for e in core.list_namespaced_event("ml", field_selector=sel).items
    ] == ["x.1"]
    with pytest.raises(client.ApiException) as info:
        core.list_namespaced_pod("ml", field_selector="spec.bogus=1")
    assert info.value.status == 400
    assert status_of(info.value)["message"] == "field label not supported: spec.bogus"


def test_limit_and_continue(core: client.CoreV1Api, emu: ApiEmulator) -> None:
    for i in range(5):
        core.create_namespaced_config_map("ml", m.configmap(f"c{i}", {}))
    page = core.list_namespaced_config_map("ml", limit=2)
    seen = [c.metadata.name for c in page.items]
    assert page.metadata.remaining_item_count == 3
    while page.metadata._continue:
        page = core.list_namespaced_config_map("ml", limit=2, _continue=page.metadata._continue)
        seen += [c.metadata.name for c in page.items]
    assert seen == [f"c{i}" for i in range(5)]
    token = core.list_namespaced_config_map("ml", limit=2).metadata._continue
    emu.compact()
    with pytest.raises(client.ApiException) as info:
        core.list_namespaced_config_map("ml", limit=2, _continue=token)
    assert info.value.status == 410
    assert status_of(info.value)["reason"] == "Expired"


def test_list_items_of_core_kinds_have_no_kind(
    emu: ApiEmulator, core: client.CoreV1Api, api: client.ApiClient
) -> None:
    core.create_namespaced_config_map("ml", m.configmap("c", {"k": "v"}))
    resp = core.list_namespaced_config_map("ml", _preload_content=False)
    body = json.loads(resp.data)
    assert body["kind"] == "ConfigMapList"
    assert body["apiVersion"] == "v1"
    assert "kind" not in body["items"][0]  # as a real server answers


# -------------------- watch


def test_list_then_watch_sees_every_later_change_in_order(
    core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    create_job(custom, "before")
    listed = custom.list_namespaced_custom_object(G, V, "ml", P)
    assert [j["metadata"]["name"] for j in listed["items"]] == ["before"]
    rv = listed["metadata"]["resourceVersion"]
    seen: list[tuple[str, str, int]] = []

    def consume() -> None:
        w = watch.Watch()
        for event in w.stream(
            custom.list_namespaced_custom_object,
            G,
            V,
            "ml",
            P,
            resource_version=rv,
            timeout_seconds=5,
        ):
            obj = event["object"]
            seen.append(
                (event["type"], obj["metadata"]["name"], int(obj["metadata"]["resourceVersion"]))
            )
            if len(seen) == 5:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.2)
    create_job(custom, "a")
    create_job(custom, "b")
    custom.patch_namespaced_custom_object(G, V, "ml", P, "a", {"metadata": {"labels": {"x": "1"}}})
    custom.delete_namespaced_custom_object(G, V, "ml", P, "before")
    custom.delete_namespaced_custom_object(G, V, "ml", P, "b")
    t.join(timeout=10)
    assert [(t_, n) for t_, n, _ in seen] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "before"),
        ("DELETED", "b"),
    ]
    rvs = [r for _, _, r in seen]
    assert rvs == sorted(rvs)
    assert rvs[0] > int(rv)


def test_watch_without_resource_version_starts_with_current_state(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("ml", m.pod("p", ["true"]))
    events = list(watch.Watch().stream(core.list_namespaced_pod, "ml", timeout_seconds=1))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "p")]


def test_watch_label_selector_transitions(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map("ml", m.configmap("c", {}))
    rv = cm.metadata.resource_version
    core.patch_namespaced_config_map("c", "ml", {"metadata": {"labels": {"app": "x"}}})
    core.patch_namespaced_config_map("c", "ml", {"data": {"k": "v"}})
    core.patch_namespaced_config_map("c", "ml", {"metadata": {"labels": {"app": None}}})
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            "ml",
            label_selector="app=x",
            resource_version=rv,
            timeout_seconds=1,
        )
    )
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_watch_410_after_compact(core: client.CoreV1Api, emu: ApiEmulator) -> None:
    cm = core.create_namespaced_config_map("ml", m.configmap("c", {}))
    old_rv = cm.metadata.resource_version
    core.patch_namespaced_config_map("c", "ml", {"data": {"k": "v"}})
    emu.compact()
    with pytest.raises(client.ApiException) as info:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, "ml", resource_version=old_rv, timeout_seconds=2
        ):
            pass
    assert info.value.status == 410
    assert info.value.reason.startswith("Expired: too old resource version")
    # raw: a 200 stream with one ERROR event carrying a Status
    resp = core.list_namespaced_config_map(
        "ml", watch=True, resource_version=old_rv, timeout_seconds=2, _preload_content=False
    )
    lines = [json.loads(line) for line in resp.data.splitlines() if line.strip()]
    assert resp.status == 200
    assert lines == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": lines[0]["object"]["message"],
                "reason": "Expired",
                "code": 410,
            },
        }
    ]
    # A list gives a fresh resourceVersion to watch from.
    fresh = core.list_namespaced_config_map("ml").metadata.resource_version
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map, "ml", resource_version=fresh, timeout_seconds=1
        )
    )
    assert events == []


def test_watch_bookmarks(core: client.CoreV1Api, emu: ApiEmulator) -> None:
    emu.bookmark_interval = 0.2
    rv = core.list_namespaced_pod("ml").metadata.resource_version
    resp = core.list_namespaced_pod(
        "ml",
        watch=True,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
        _preload_content=False,
    )
    events = [json.loads(line) for line in resp.data.splitlines() if line.strip()]
    assert events
    assert all(e["type"] == "BOOKMARK" for e in events)
    assert events[0]["object"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv},
    }


# -------------------- deletion


def _owned_cm(core: client.CoreV1Api, name: str, owner: dict[str, Any]) -> Any:
    body = m.configmap(name, {})
    body["metadata"]["ownerReferences"] = [
        {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
        }
    ]
    return core.create_namespaced_config_map("ml", body)


def test_foreground_delete_removes_dependents_first(
    core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    job = create_job(custom, "owner")
    child = _owned_cm(core, "child", job)
    _owned_cm(
        core,
        "grandchild",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "child", "uid": child.metadata.uid},
        },
    )
    rv = custom.list_namespaced_custom_object(G, V, "ml", P)["metadata"]["resourceVersion"]
    resp = custom.delete_namespaced_custom_object(
        G, V, "ml", P, "owner", propagation_policy="Foreground"
    )
    assert resp["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in resp["metadata"]["finalizers"]
    assert core.list_namespaced_config_map("ml").items == []
    with pytest.raises(client.ApiException):
        custom.get_namespaced_custom_object(G, V, "ml", P, "owner")
    jobs = [
        (e["type"], e["raw_object"]["metadata"]["resourceVersion"])
        for e in watch.Watch().stream(
            custom.list_namespaced_custom_object,
            G,
            V,
            "ml",
            P,
            resource_version=rv,
            timeout_seconds=1,
        )
    ]
    cms = [
        (
            e["type"],
            e["raw_object"]["metadata"]["name"],
            e["raw_object"]["metadata"]["resourceVersion"],
        )
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, "ml", resource_version=rv, timeout_seconds=1
        )
    ]
    assert [t for t, _ in jobs] == ["MODIFIED", "DELETED"]
    # The child has a dependent of its own, so it is deleted in the foreground too.
    assert [(t, n) for t, n, _ in cms] == [
        ("MODIFIED", "child"),
        ("DELETED", "grandchild"),
        ("DELETED", "child"),
    ]
    order = [int(jobs[0][1]), *(int(r) for _, _, r in cms), int(jobs[1][1])]
    assert order == sorted(order)


def test_background_and_orphan_delete(
    core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    job = create_job(custom, "bg")
    _owned_cm(core, "bg-child", job)
    resp = custom.delete_namespaced_custom_object(
        G, V, "ml", P, "bg", body=client.V1DeleteOptions(propagation_policy="Background")
    )
    assert resp["kind"] == "Status"
    assert resp["status"] == "Success"
    assert core.list_namespaced_config_map("ml").items == []
    job = create_job(custom, "or")
    _owned_cm(core, "or-child", job)
    custom.delete_namespaced_custom_object(G, V, "ml", P, "or", propagation_policy="Orphan")
    left = core.read_namespaced_config_map("or-child", "ml")
    assert left.metadata.owner_references is None


def test_finalizers_hold_deletion(core: client.CoreV1Api) -> None:
    body = m.configmap("held", {})
    body["metadata"]["finalizers"] = ["example.com/keep"]
    core.create_namespaced_config_map("ml", body)
    core.delete_namespaced_config_map("held", "ml")
    cm = core.read_namespaced_config_map("held", "ml")
    assert cm.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map(
        "held", "ml", [{"op": "remove", "path": "/metadata/finalizers"}]
    )
    with pytest.raises(client.ApiException) as info:
        core.read_namespaced_config_map("held", "ml")
    assert info.value.status == 404


def test_delete_namespace_removes_its_objects(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "tmp"}})
    core.create_namespaced_config_map("tmp", m.configmap("c", {}))
    core.delete_namespace("tmp")
    assert (
        core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=tmp").items == []
    )
    assert "tmp" not in [n.metadata.name for n in core.list_namespace().items]


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


def test_thousand_pytorchjobs_list_fast(custom: client.CustomObjectsApi, emu: ApiEmulator) -> None:
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
    t0 = time.perf_counter()
    listed = custom.list_namespaced_custom_object(G, V, "ml", P)
    elapsed = time.perf_counter() - t0
    assert len(listed["items"]) == 1000
    assert elapsed < 1.0, elapsed
    assert emu.count("GET", "pytorchjobs") == 1
