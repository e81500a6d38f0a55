"""The API emulator over HTTP: label and field selectors, pagination, list bodies."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from . import manifests as m
from .emulator import ApiEmulator
from .helpers import status_of

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
