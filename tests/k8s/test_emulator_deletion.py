"""The API emulator over HTTP: cascading deletion, finalizers, namespaces."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, watch

from . import manifests as m
from .helpers import G, P, V, create_job

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
