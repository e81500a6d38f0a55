"""JobSet (``jobset.x-k8s.io/v1alpha2``) and the Job controller under it, as far as the
trainer needs them: indexed pods per replicated job, replicatedJobsStatus, and the
Completed/Failed/Suspended conditions."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from .. import kube
from ..store import ApiError
from .common import COMPLETION_INDEX, JOBSET, controller_uid, is_true, owner_ref, set_meta_condition
from .controller import Controller


class JobSets(Controller):
    """Creates a JobSet's pods and sums their phases up into its status."""

    def reconcile(
        self, jobset: dict[str, Any], plan: dict[str, Any] | None, suspended: bool
    ) -> dict[str, Any] | None:
        meta = jobset["metadata"]
        name, ns = meta["name"], meta["namespace"]
        status = kube.clone(jobset.get("status") or {})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        finished = is_true(conditions, "Completed") or is_true(conditions, "Failed")
        pods = [
            p
            for p in self.store.select(
                "pods", ns, label_selector=f"jobset.sigs.k8s.io/jobset-name={name}"
            )
            if controller_uid(p) == meta["uid"]
        ]
        if suspended and not finished:
            for pod in pods:
                self.delete_quietly("pods", ns, pod["metadata"]["name"])
            pods = []
        statuses = []
        any_failed = False
        all_done = True
        for rj in (jobset.get("spec") or {}).get("replicatedJobs") or []:
            rj_name = rj["name"]
            jt = rj.get("template") or {}
            count = int(
                (jt.get("spec") or {}).get("completions")
                or (jt.get("spec") or {}).get("parallelism")
                or 1
            )
            mine = [
                p
                for p in pods
                if (p["metadata"].get("labels") or {}).get("jobset.sigs.k8s.io/replicatedjob-name")
                == rj_name
            ]
            by_index = {(p["metadata"].get("labels") or {}).get(COMPLETION_INDEX): p for p in mine}
            if not suspended and not finished:
                for index in range(count):
                    if str(index) not in by_index:
                        pod = self._pod(jobset, rj, index)
                        try:
                            by_index[str(index)] = self.store.create("pods", pod, ns)
                        except ApiError as exc:
                            self.memo.retry_later(f"trainjob/{controller_uid(jobset)}")
                            self.events.record(
                                jobset,
                                "Warning",
                                "FailedCreate",
                                f"Error creating: {exc.message}",
                                "job-controller",
                            )
            phases = [((p.get("status") or {}).get("phase")) for p in by_index.values()]
            succeeded = sum(1 for ph in phases if ph == "Succeeded")
            failed = sum(1 for ph in phases if ph == "Failed")
            running = sum(1 for ph in phases if ph == "Running")
            job_succeeded = succeeded >= count
            job_failed = failed > 0
            any_failed |= job_failed
            all_done &= job_succeeded
            statuses.append(
                {
                    "name": rj_name,
                    "ready": 1
                    if running + succeeded >= count and not job_succeeded and not job_failed
                    else 0,
                    "succeeded": 1 if job_succeeded else 0,
                    "failed": 1 if job_failed else 0,
                    "active": 1 if not (job_succeeded or job_failed or suspended) else 0,
                    "suspended": 1 if suspended else 0,
                }
            )
        status["replicatedJobsStatus"] = statuses
        if not finished:
            if any_failed:
                set_meta_condition(
                    conditions,
                    "Failed",
                    "True",
                    "FailedJobs",
                    "jobset failed due to one or more job failures",
                )
                status["terminalState"] = "Failed"
            elif all_done and statuses:
                set_meta_condition(
                    conditions,
                    "Completed",
                    "True",
                    "AllJobsCompleted",
                    "jobset completed successfully",
                )
                status["terminalState"] = "Completed"
            elif suspended:
                set_meta_condition(
                    conditions, "Suspended", "True", "SuspendedJobs", "jobset is suspended"
                )
            elif is_true(conditions, "Suspended"):
                set_meta_condition(
                    conditions, "Suspended", "False", "ResumeJobs", "jobset is resumed"
                )
        if status != (jobset.get("status") or {}):

            def change(o: dict[str, Any]) -> None:
                o["status"] = status

            self.store.mutate(JOBSET, ns, name, change, subresource="status")
        return status

    def _pod(self, jobset: dict[str, Any], rj: dict[str, Any], index: int) -> dict[str, Any]:
        meta = jobset["metadata"]
        name = meta["name"]
        jt = rj.get("template") or {}
        template = kube.clone((jt.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        job_name = f"{name}-{rj['name']}-0"
        labels = {
            **((jt.get("metadata") or {}).get("labels") or {}),
            **(tmeta.get("labels") or {}),
            "jobset.sigs.k8s.io/jobset-name": name,
            "jobset.sigs.k8s.io/replicatedjob-name": rj["name"],
            "jobset.sigs.k8s.io/replicatedjob-replicas": "1",
            "jobset.sigs.k8s.io/job-index": "0",
            "jobset.sigs.k8s.io/job-key": hashlib.sha1(
                f"{meta['namespace']}/{job_name}".encode()
            ).hexdigest(),
            "batch.kubernetes.io/job-name": job_name,
            "job-name": job_name,
            COMPLETION_INDEX: str(index),
        }
        annotations = {
            **(tmeta.get("annotations") or {}),
            "jobset.sigs.k8s.io/jobset-name": name,
            "jobset.sigs.k8s.io/replicatedjob-name": rj["name"],
            "jobset.sigs.k8s.io/job-index": "0",
            COMPLETION_INDEX: str(index),
        }
        spec = template.get("spec") or {}
        spec.setdefault(
            "restartPolicy",
            "Never" if spec.get("restartPolicy") in (None, "Always") else spec["restartPolicy"],
        )
        if spec["restartPolicy"] == "Always":
            spec["restartPolicy"] = "Never"
        spec["hostname"] = f"{job_name}-{index}"
        spec["subdomain"] = name
        suffix = "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{job_name}-{index}-{suffix}",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner_ref(jobset)],
            },
            "spec": spec,
        }
