"""Kueue (v0.19, Workload ``kueue.x-k8s.io/v1beta2``), its job integration: a
PyTorchJob/TrainJob labelled ``kueue.x-k8s.io/queue-name`` is suspended on create (Kueue's
mutating webhook), gets a Workload owned by it, is kept suspended until admitted (by
``kueue_scheduler``), and its Workload is Finished when the job is."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from .. import kube
from ..store import AdmissionRequest, Store
from .common import (
    PYTORCH,
    TRAINJOB,
    WORKLOAD,
    condition,
    controller_uid,
    is_true,
    owner_ref,
    set_meta_condition,
)
from .controller import Controller, EventRecorder, Memo
from .pytorch_spec import ordered_replica_types
from .trainer import runtime_for, trainjob_plan

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"


class KueueSettings(Protocol):
    priority_classes: dict[str, int]  # WorkloadPriorityClass name -> value


class Kueue(Controller):
    """Creates, and finishes, the Workload of each queued job; suspends a job that runs
    without admission."""

    def __init__(
        self, store: Store, events: EventRecorder, memo: Memo, settings: KueueSettings
    ) -> None:
        super().__init__(store, events, memo)
        self.settings = settings

    def webhook(self, req: AdmissionRequest) -> None:
        """Kueue's job webhook: a job with a queue name is created suspended."""
        if req.operation != "CREATE" or req.obj is None or req.rtype.key not in (PYTORCH, TRAINJOB):
            return
        labels = req.obj["metadata"].get("labels") or {}
        if not labels.get(QUEUE_LABEL):
            return
        spec = req.obj.setdefault("spec", {})
        if req.rtype.key == PYTORCH:
            spec.setdefault("runPolicy", {})["suspend"] = True
        else:
            spec["suspend"] = True

    def reconcile(self) -> None:
        store = self.store
        workloads_by_owner: dict[str, dict[str, Any]] = {}
        for existing in store.select(WORKLOAD):
            owner = controller_uid(existing)
            if owner:
                workloads_by_owner[owner] = existing
        for rt_key in (PYTORCH, TRAINJOB):
            if rt_key not in store.types:
                continue
            for job in store.select(rt_key):
                meta = job["metadata"]
                queue = (meta.get("labels") or {}).get(QUEUE_LABEL)
                if not queue or meta.get("deletionTimestamp"):
                    continue
                wl: dict[str, Any] | None = workloads_by_owner.get(meta["uid"])
                runtime = runtime_for(self.store, job) if rt_key == TRAINJOB else None
                if self.memo.unchanged(f"kueue/{meta['uid']}", job, [wl, runtime]):
                    continue
                finished, succeeded, message = job_finished(rt_key, job)
                if wl is None:
                    if finished:
                        continue
                    wl = self._create_workload(rt_key, job, queue)
                    if wl is None:
                        continue
                    workloads_by_owner[meta["uid"]] = wl
                wl_conditions = (wl.get("status") or {}).get("conditions") or []
                if finished:
                    if not is_true(wl_conditions, "Finished"):
                        reason = "Succeeded" if succeeded else "Failed"

                        def finish(
                            obj: dict[str, Any], reason: str = reason, message: str = message
                        ) -> None:
                            status = obj.setdefault("status", {})
                            conds = status.setdefault("conditions", [])
                            set_meta_condition(
                                conds,
                                "Finished",
                                "True",
                                reason,
                                message,
                                obj["metadata"].get("generation"),
                            )

                        store.mutate(
                            WORKLOAD,
                            wl["metadata"]["namespace"],
                            wl["metadata"]["name"],
                            finish,
                            subresource="status",
                        )
                    continue
                admitted = is_true(wl_conditions, "Admitted")
                if not admitted and not suspended(rt_key, job):
                    # Started without admission: Kueue suspends it again.
                    set_suspend(self.store, rt_key, job, True)
                elif admitted and suspended(rt_key, job):
                    # Suspended while admitted: Kueue starts it again (to stop a queued
                    # job, delete it or deactivate its Workload; deactivation is not
                    # emulated).
                    set_suspend(self.store, rt_key, job, False)

    def _create_workload(
        self, rt_key: str, job: dict[str, Any], queue: str
    ) -> dict[str, Any] | None:
        meta = job["metadata"]
        kind = job["kind"]
        group = job["apiVersion"].split("/")[0]
        podsets = self._podsets(rt_key, job)
        if not podsets:
            return None
        digest = hashlib.sha1(
            f"{kind}\n{group}\n{meta['name']}\n{meta['uid']}".encode()
        ).hexdigest()[:5]
        name = f"{kind.lower()}-{meta['name']}"[: 253 - 6] + f"-{digest}"
        spec: dict[str, Any] = {"queueName": queue, "podSets": podsets, "active": True}
        priority_class = (meta.get("labels") or {}).get(PRIORITY_LABEL)
        if priority_class:
            spec["priority"] = int(self.settings.priority_classes.get(priority_class, 0))
            spec["priorityClassRef"] = {
                "group": "kueue.x-k8s.io",
                "kind": "WorkloadPriorityClass",
                "name": priority_class,
            }
        else:
            spec["priority"] = 0
        wl = {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "Workload",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": {JOB_UID_LABEL: meta["uid"]},
                "ownerReferences": [owner_ref(job)],
            },
            "spec": spec,
        }
        created = self.store.create(WORKLOAD, wl, meta["namespace"])
        self.events.record(
            job,
            "Normal",
            "CreatedWorkload",
            f"Created Workload: {meta['namespace']}/{name}",
            "kueue-controller",
        )
        return created

    def _podsets(self, rt_key: str, job: dict[str, Any]) -> list[dict[str, Any]]:
        if rt_key == PYTORCH:
            specs = (job.get("spec") or {}).get("pytorchReplicaSpecs") or {}
            out = []
            for rtype in ordered_replica_types(specs):
                spec = specs[rtype] or {}
                out.append(
                    {
                        "name": rtype.lower(),
                        "count": int(spec.get("replicas", 1)),
                        "template": kube.clone(spec.get("template") or {}),
                    }
                )
            return out
        built = trainjob_plan(self.store, job)
        if built is None:
            return []
        return [
            {"name": rj["name"], "count": rj["count"], "template": kube.clone(rj["template"])}
            for rj in built["jobs"]
        ]


def suspended(rt_key: str, job: dict[str, Any]) -> bool:
    spec = job.get("spec") or {}
    if rt_key == PYTORCH:
        return bool((spec.get("runPolicy") or {}).get("suspend"))
    return bool(spec.get("suspend"))


def set_suspend(
    store: Store,
    rt_key: str,
    job: dict[str, Any],
    value: bool,
    node_labels: dict[str, str] | None = None,
) -> None:
    def change(obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        if rt_key == PYTORCH:
            spec.setdefault("runPolicy", {})["suspend"] = value
            if node_labels and not value:
                for rspec in (spec.get("pytorchReplicaSpecs") or {}).values():
                    pod_spec = rspec.setdefault("template", {}).setdefault("spec", {})
                    pod_spec["nodeSelector"] = {
                        **(pod_spec.get("nodeSelector") or {}),
                        **node_labels,
                    }
        else:
            spec["suspend"] = value

    meta = job["metadata"]
    store.mutate(rt_key, meta["namespace"], meta["name"], change)


def job_finished(rt_key: str, job: dict[str, Any]) -> tuple[bool, bool, str]:
    """(finished, succeeded, message) as Kueue reads it from the job's conditions."""
    conditions = (job.get("status") or {}).get("conditions") or []
    if rt_key == PYTORCH:
        for ctype in ("Succeeded", "Failed"):
            cond = condition(conditions, ctype)
            if cond and cond.get("status") == "True":
                return True, ctype == "Succeeded", str(cond.get("message", ""))
        return False, False, ""
    for ctype in ("Complete", "Failed"):
        cond = condition(conditions, ctype)
        if cond and cond.get("status") == "True":
            return True, ctype == "Complete", str(cond.get("message", ""))
    return False, False, ""
