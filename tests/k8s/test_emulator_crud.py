"""The API emulator through the real ``kubernetes`` client over HTTP: create, read,
update, patch, apply, and validation."""

from __future__ import annotations

import pytest
from kubernetes import client

from . import manifests as m
from .helpers import G, P, V, create_job, status_of

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
