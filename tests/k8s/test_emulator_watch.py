"""The API emulator over HTTP: watches (list then watch, selectors, 410 after a
compaction, bookmarks)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, watch

from . import manifests as m
from .emulator import ApiEmulator
from .helpers import G, P, V, create_job

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
