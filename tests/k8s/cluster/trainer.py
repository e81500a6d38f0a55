"""The Kubeflow Trainer (v2.3) for TrainJob ``trainer.kubeflow.org/v1alpha1``: from the
referenced (Cluster)TrainingRuntime, a JobSet (played by ``jobset``) with the torch
plugin's env, conditions Suspended/Complete/Failed and jobsStatus; its webhook rejects a
TrainJob whose runtime does not exist."""

from __future__ import annotations

import json
from typing import Any

from .. import kube
from ..store import AdmissionRequest, ApiError, Store
from .common import (
    COMPLETION_INDEX,
    CTR,
    JOBSET,
    TR,
    TRAINJOB,
    condition,
    controller_uid,
    deny,
    is_true,
    owner_ref,
    set_meta_condition,
    upsert_env,
)
from .controller import Controller, EventRecorder, Memo
from .jobset import JobSets

TRAINER_PORT = 29500
TRAINJOB_CONTROLLER = "trainjob-controller"


class Trainer(Controller):
    """Reconciles every TrainJob whose runtime, JobSet or pods changed."""

    def __init__(self, store: Store, events: EventRecorder, memo: Memo) -> None:
        super().__init__(store, events, memo)
        self.jobsets = JobSets(store, events, memo)

    def webhook(self, req: AdmissionRequest) -> None:
        """The trainer's validating webhook: a TrainJob's runtime must exist."""
        if req.obj is None or req.operation not in ("CREATE", "UPDATE") or req.subresource:
            return
        if req.rtype.key != TRAINJOB or req.operation != "CREATE":
            return
        ref = dict((req.obj.get("spec") or {}).get("runtimeRef") or {})
        kind = ref.get("kind") or "ClusterTrainingRuntime"
        group = ref.get("apiGroup") or "trainer.kubeflow.org"
        if (
            kind not in ("ClusterTrainingRuntime", "TrainingRuntime")
            or group != "trainer.kubeflow.org"
        ):
            raise deny(
                "validator.trainjob.trainer.kubeflow.org",
                [f"unsupported runtime: {kind}.{group}"],
            )
        shown = json.dumps(
            {"name": ref.get("name"), "apiGroup": group, "kind": kind}, separators=(",", ":")
        )
        if kind == "ClusterTrainingRuntime":
            found = self.store.try_get(CTR, "", ref.get("name", ""), copy_=False)
            missing = f'clustertrainingruntimes.trainer.kubeflow.org "{ref.get("name")}" not found'
            what = "clusterTrainingRuntime"
        else:
            found = self.store.try_get(TR, req.namespace, ref.get("name", ""), copy_=False)
            missing = f'trainingruntimes.trainer.kubeflow.org "{ref.get("name")}" not found'
            what = "trainingRuntime"
        if found is None:
            raise deny(
                "validator.trainjob.trainer.kubeflow.org",
                [
                    f"spec.RuntimeRef: Invalid value: {shown}: {missing}: specified {what} "
                    "must be "
                    "created before the TrainJob is created"
                ],
            )

    def reconcile(self) -> None:
        if TRAINJOB not in self.store.types:
            return
        jobsets = {
            (js["metadata"]["namespace"], js["metadata"]["name"]): js
            for js in self.store.select(JOBSET)
        }
        pods_by_jobset: dict[str, list[dict[str, Any]]] = {}
        for pod in self.store.select("pods", label_selector="jobset.sigs.k8s.io/jobset-name"):
            pods_by_jobset.setdefault(controller_uid(pod), []).append(pod)
        for job in self.store.select(TRAINJOB):
            meta = job["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            jobset = jobsets.get((meta["namespace"], meta["name"]))
            inputs = [runtime_for(self.store, job), jobset]
            if jobset is not None:
                inputs += pods_by_jobset.get(jobset["metadata"]["uid"], [])
            if self.memo.unchanged(f"trainjob/{meta['uid']}", job, inputs):
                continue
            self._reconcile_job(job)

    def _reconcile_job(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        name, ns = meta["name"], meta["namespace"]
        status = kube.clone(job.get("status") or {})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        suspended = bool((job.get("spec") or {}).get("suspend"))
        finished = is_true(conditions, "Complete") or is_true(conditions, "Failed")
        events: list[tuple[str, str, str]] = []
        plan = None if finished else trainjob_plan(self.store, job)
        if not finished and plan is None:
            ref = (job.get("spec") or {}).get("runtimeRef") or {}
            events.append(
                (
                    "Warning",
                    "TrainJobResourcesCreationFailed",
                    "TrainJob resources reconciliation failed: "
                    f"{ref.get('kind') or 'ClusterTrainingRuntime'} {ref.get('name')} not found",
                )
            )
        if suspended:
            set_meta_condition(
                conditions, "Suspended", "True", "Suspended", "TrainJob is suspended"
            )
        elif is_true(conditions, "Suspended"):
            set_meta_condition(conditions, "Suspended", "False", "Resumed", "TrainJob is resumed")
        jobset = self.store.try_get(JOBSET, ns, name, copy_=False)
        if plan is not None:
            jobset = self._ensure_jobset(job, plan, suspended, jobset)
        if jobset is not None:
            js_status = self.jobsets.reconcile(jobset, plan, suspended)
            if js_status is not None:
                status["jobsStatus"] = js_status["replicatedJobsStatus"]
                for js_type, tj_type in (("Completed", "Complete"), ("Failed", "Failed")):
                    cond = condition(js_status.get("conditions") or [], js_type)
                    if cond and cond.get("status") == "True":
                        set_meta_condition(
                            conditions, tj_type, "True", cond["reason"], cond["message"]
                        )
        if not conditions:
            status.pop("conditions")
        self.write_status(TRAINJOB, job, status, events, TRAINJOB_CONTROLLER)

    def _ensure_jobset(
        self,
        job: dict[str, Any],
        plan: dict[str, Any],
        suspended: bool,
        jobset: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        meta = job["metadata"]
        name, ns = meta["name"], meta["namespace"]
        if jobset is not None:
            if bool((jobset.get("spec") or {}).get("suspend")) != suspended:

                def change(o: dict[str, Any]) -> None:
                    o["spec"]["suspend"] = suspended

                return self.store.mutate(JOBSET, ns, name, change)
            return jobset
        replicated = []
        for rj in plan["jobs"]:
            jt = kube.clone(rj["job_template"])
            jt.setdefault("spec", {})["template"] = rj["template"]
            jt["spec"]["parallelism"] = rj["count"]
            jt["spec"]["completions"] = rj["count"]
            jt["spec"]["completionMode"] = "Indexed"
            replicated.append({"name": rj["name"], "replicas": 1, "template": jt})
        manifest = {
            "apiVersion": "jobset.x-k8s.io/v1alpha2",
            "kind": "JobSet",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"trainer.kubeflow.org/trainjob-name": name},
                "ownerReferences": [owner_ref(job)],
            },
            "spec": {
                "replicatedJobs": replicated,
                "suspend": suspended,
                "network": {"enableDNSHostnames": True, "subdomain": name},
            },
        }
        try:
            created = self.store.create(JOBSET, manifest, ns)
        except ApiError as exc:
            self.events.record(
                job,
                "Warning",
                "TrainJobResourcesCreationFailed",
                f"TrainJob resources reconciliation failed: {exc.message[:950]}",
                TRAINJOB_CONTROLLER,
            )
            return None
        self.create_headless_service(
            name,
            created,
            {
                "selector": {"jobset.sigs.k8s.io/jobset-name": name},
                "publishNotReadyAddresses": True,
            },
        )
        return created


def runtime_for(store: Store, job: dict[str, Any]) -> dict[str, Any] | None:
    """The (Cluster)TrainingRuntime a TrainJob refers to, if it exists."""
    ref = (job.get("spec") or {}).get("runtimeRef") or {}
    if (ref.get("kind") or "ClusterTrainingRuntime") == "ClusterTrainingRuntime":
        return store.try_get(CTR, "", ref.get("name", ""), copy_=False)
    return store.try_get(TR, job["metadata"]["namespace"], ref.get("name", ""), copy_=False)


def trainjob_plan(store: Store, job: dict[str, Any]) -> dict[str, Any] | None:
    """What the trainer would build from the runtime: per replicated job (only the
    trainer's: ancestor label ``trainer`` or name ``node``), a pod template and count."""
    runtime = runtime_for(store, job)
    if runtime is None:
        return None
    rspec = runtime.get("spec") or {}
    ml = rspec.get("mlPolicy") or {}
    trainer = (job.get("spec") or {}).get("trainer") or {}
    jobs = []
    for rj in ((rspec.get("template") or {}).get("spec") or {}).get("replicatedJobs") or []:
        jt = rj.get("template") or {}
        ancestor = ((jt.get("metadata") or {}).get("labels") or {}).get(
            "trainer.kubeflow.org/trainjob-ancestor-step"
        )
        if ancestor != "trainer" and rj.get("name") != "node":
            continue
        template = kube.clone((jt.get("spec") or {}).get("template") or {})
        pod_spec = template.setdefault("spec", {})
        count = int(trainer.get("numNodes") or ml.get("numNodes") or 1)
        resources = trainer.get("resourcesPerNode")
        for container in pod_spec.get("containers") or []:
            if container.get("name") != "node":
                continue
            if trainer.get("image"):
                container["image"] = trainer["image"]
            if trainer.get("command"):
                container["command"] = list(trainer["command"])
            if trainer.get("args"):
                container["args"] = list(trainer["args"])
            if resources:
                container["resources"] = kube.clone(resources)
            container["env"] = upsert_env(
                container.get("env") or [], list(trainer.get("env") or [])
            )
            if "torch" in ml:
                nproc: Any = trainer.get("numProcPerNode")
                if nproc is None:
                    res = container.get("resources") or {}
                    gpus = any(
                        "gpu" in k
                        for k in {**(res.get("limits") or {}), **(res.get("requests") or {})}
                    )
                    if gpus:
                        nproc = "auto"
                    else:
                        cpu = (res.get("requests") or {}).get("cpu") or (
                            res.get("limits") or {}
                        ).get("cpu")
                        nproc = max(1, int(kube.parse_quantity(cpu))) if cpu else 1
                name = job["metadata"]["name"]
                container["env"] = upsert_env(
                    container["env"],
                    [
                        {"name": "PET_NNODES", "value": str(count)},
                        {"name": "PET_NPROC_PER_NODE", "value": str(nproc)},
                        {
                            "name": "PET_NODE_RANK",
                            "valueFrom": {
                                "fieldRef": {
                                    "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"
                                }
                            },
                        },
                        {"name": "PET_MASTER_ADDR", "value": f"{name}-node-0-0.{name}"},
                        {"name": "PET_MASTER_PORT", "value": str(TRAINER_PORT)},
                    ],
                )
                ports = container.setdefault("ports", [])
                if not any(p.get("containerPort") == TRAINER_PORT for p in ports):
                    ports.append({"containerPort": TRAINER_PORT, "protocol": "TCP"})
        _apply_runtime_patches(job, rj["name"], template)
        jobs.append({"name": rj["name"], "count": count, "template": template, "job_template": jt})
    return {"runtime": runtime, "jobs": jobs}


def _by_name(items: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` with each of ``extra`` replacing the entry of the same name, or appended."""
    out = [dict(i) for i in items]
    for item in extra:
        out = [o for o in out if o.get("name") != item.get("name")] + [kube.clone(item)]
    return out


def _apply_runtime_patches(job: dict[str, Any], replicated: str, template: dict[str, Any]) -> None:
    """TrainJob ``spec.runtimePatches``: labels, annotations and the permitted pod fields
    (volumes, containers' env and volumeMounts, placement, service account, pull secrets)
    patched into a replicated job's pod template, in order."""
    for patch in (job.get("spec") or {}).get("runtimePatches") or []:
        runtime_spec = (patch.get("trainingRuntimeSpec") or {}).get("template") or {}
        for rj in (runtime_spec.get("spec") or {}).get("replicatedJobs") or []:
            if rj.get("name") != replicated:
                continue
            pod = ((rj.get("template") or {}).get("spec") or {}).get("template") or {}
            meta = template.setdefault("metadata", {})
            for key in ("labels", "annotations"):
                extra = (pod.get("metadata") or {}).get(key) or {}
                if extra:
                    meta[key] = {**(meta.get(key) or {}), **extra}
            spec = template.setdefault("spec", {})
            wanted = pod.get("spec") or {}
            spec["volumes"] = _by_name(spec.get("volumes") or [], wanted.get("volumes") or [])
            for key in ("nodeSelector",):
                if wanted.get(key):
                    spec[key] = {**(spec.get(key) or {}), **wanted[key]}
            for key in ("affinity", "serviceAccountName", "securityContext"):
                if wanted.get(key):
                    spec[key] = kube.clone(wanted[key])
            for key in ("tolerations", "imagePullSecrets"):
                if wanted.get(key):
                    spec[key] = [*(spec.get(key) or []), *kube.clone(wanted[key])]
            for change in wanted.get("containers") or []:
                for container in spec.get("containers") or []:
                    if container.get("name") != change.get("name"):
                        continue
                    container["env"] = upsert_env(
                        container.get("env") or [], change.get("env") or []
                    )
                    container["volumeMounts"] = [
                        *(container.get("volumeMounts") or []),
                        *kube.clone(change.get("volumeMounts") or []),
                    ]
