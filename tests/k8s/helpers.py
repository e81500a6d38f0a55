"""What the tests of the emulator and the fake cluster share: API coordinates, the
``Status`` of a refusal, and polling and reading jobs, pods, logs and events through the
real client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from . import manifests as m

G, V, P = "kubeflow.org", "v1", "pytorchjobs"
TG, TV, TP = "trainer.kubeflow.org", "v1alpha1", "trainjobs"
PY = m.PYTHON


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


def workload_of(custom: client.CustomObjectsApi, job_uid: str) -> dict[str, Any] | None:
    items = custom.list_namespaced_custom_object(
        "kueue.x-k8s.io",
        "v1beta2",
        "ml",
        "workloads",
        label_selector=f"kueue.x-k8s.io/job-uid={job_uid}",
    )["items"]
    return items[0] if items else None
