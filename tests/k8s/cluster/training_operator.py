"""The Kubeflow training operator (v1.9) for PyTorchJob ``kubeflow.org/v1``: pods and
services per replica with the operator's env, conditions, replica statuses,
cleanPodPolicy, activeDeadlineSeconds, and its validating webhook."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .. import kube
from ..store import AdmissionRequest, ApiError
from .common import PYTORCH, condition, controller_uid, deny, is_true, owner_ref
from .controller import Controller
from .pytorch_spec import (
    PYTORCH_PORT_NAME,
    elastic_env,
    ordered_replica_types,
    pytorch_defaults,
    pytorch_port,
    validate_pytorchjob,
)

PYTORCH_OPERATOR = "pytorchjob-controller"


@dataclass
class _Pass:
    """One reconcile of a PyTorchJob: what it read (the job, its spec with the operator's
    defaults, its pods) and what it writes back (the status, the events to record)."""

    job: dict[str, Any]
    spec: dict[str, Any]
    pods: list[dict[str, Any]]
    status: dict[str, Any]
    events: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def replicas(self) -> dict[str, dict[str, Any]]:
        replicas: dict[str, dict[str, Any]] = self.spec["pytorchReplicaSpecs"]
        return replicas

    @property
    def conditions(self) -> list[dict[str, Any]]:
        conditions: list[dict[str, Any]] = self.status["conditions"]
        return conditions

    @property
    def replica_statuses(self) -> dict[str, dict[str, Any]]:
        statuses: dict[str, dict[str, Any]] = self.status["replicaStatuses"]
        return statuses


class TrainingOperator(Controller):
    """Reconciles every PyTorchJob whose pods or spec changed."""

    def webhook(self, req: AdmissionRequest) -> None:
        """The operator's validating webhook for PyTorchJobs."""
        if req.obj is None or req.operation not in ("CREATE", "UPDATE") or req.subresource:
            return
        if req.rtype.key == PYTORCH:
            errors = validate_pytorchjob(req.obj)
            if errors:
                raise deny("validator.pytorchjob.training-operator.kubeflow.org", errors)

    def reconcile(self) -> None:
        if PYTORCH not in self.store.types:
            return
        pods_by_owner: dict[str, list[dict[str, Any]]] = {}
        for pod in self.store.select(
            "pods", label_selector=f"training.kubeflow.org/operator-name={PYTORCH_OPERATOR}"
        ):
            pods_by_owner.setdefault(controller_uid(pod), []).append(pod)
        for job in self.store.select(PYTORCH):
            if job["metadata"].get("deletionTimestamp"):
                continue
            pods = pods_by_owner.get(job["metadata"]["uid"], [])
            if self.memo.unchanged(f"pytorch/{job['metadata']['uid']}", job, pods):
                continue
            self._reconcile_job(job, pods)

    def _reconcile_job(self, job: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        name = job["metadata"]["name"]
        spec = pytorch_defaults(job.get("spec") or {})
        run_policy = spec.get("runPolicy") or {}
        status = kube.clone(job.get("status") or {})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        if condition(conditions, "Created") is None:
            _set_job_condition(
                conditions, "Created", "True", "PyTorchJobCreated", f"PyTorchJob {name} is created."
            )
        status.setdefault("replicaStatuses", {})
        work = _Pass(job, spec, pods, status)
        if is_true(conditions, "Succeeded") or is_true(conditions, "Failed"):
            self._clean_up(work)
        elif run_policy.get("suspend"):
            self._suspend(work)
        else:
            self._run(work)
        self.write_status(PYTORCH, job, status, work.events, PYTORCH_OPERATOR)

    def _clean_up(self, work: _Pass) -> None:
        """A finished job: cleanPodPolicy; the active replicas of a success succeeded."""
        ns = work.job["metadata"]["namespace"]
        policy = (work.spec.get("runPolicy") or {}).get("cleanPodPolicy") or "None"
        for pod in work.pods:
            phase = (pod.get("status") or {}).get("phase")
            if policy == "All" or (policy == "Running" and phase in ("Running", "Pending")):
                self.delete_quietly("pods", ns, pod["metadata"]["name"])
        if is_true(work.conditions, "Succeeded"):
            for rs in work.replica_statuses.values():
                rs["succeeded"] = rs.get("succeeded", 0) + rs.get("active", 0)
                rs["active"] = 0

    def _suspend(self, work: _Pass) -> None:
        """A suspended job: its pods go; Suspended, and no longer Running."""
        name, ns = work.job["metadata"]["name"], work.job["metadata"]["namespace"]
        conditions = work.conditions
        for pod in work.pods:
            self.delete_quietly("pods", ns, pod["metadata"]["name"])
        for rs in work.replica_statuses.values():
            rs["active"] = 0
        msg = f"PyTorchJob {name} is suspended."
        if is_true(conditions, "Running"):
            _set_job_condition(conditions, "Running", "False", "PyTorchJobSuspended", msg)
        if not is_true(conditions, "Suspended"):
            _set_job_condition(conditions, "Suspended", "True", "PyTorchJobSuspended", msg)
            work.events.append(("Normal", "PyTorchJobSuspended", msg))

    def _run(self, work: _Pass) -> None:
        """A running job: resumed, its missing pods created, its deadline enforced, its
        replicas summed up into replicaStatuses and conditions."""
        name, status = work.job["metadata"]["name"], work.status
        if is_true(work.conditions, "Suspended"):
            msg = f"PyTorchJob {name} is resumed."
            _set_job_condition(work.conditions, "Suspended", "False", "PyTorchJobResumed", msg)
            status["startTime"] = kube.now_iso()
            work.events.append(("Normal", "PyTorchJobResumed", msg))
        by_key = self._create_pods(work)
        if "startTime" not in status:
            status["startTime"] = kube.now_iso()
        if self._past_deadline(work):
            return
        _replica_statuses(work, by_key)
        _job_conditions(work)

    def _create_pods(self, work: _Pass) -> dict[tuple[str, str], dict[str, Any]]:
        """Pods and services per replica: the pods by (replica type, index)."""
        meta = work.job["metadata"]
        replicas = work.replicas
        by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for pod in work.pods:
            labels = pod["metadata"].get("labels") or {}
            by_key[
                (
                    labels.get("training.kubeflow.org/replica-type", ""),
                    labels.get("training.kubeflow.org/replica-index", ""),
                )
            ] = pod
        for rtype in ordered_replica_types(replicas):
            rspec = replicas[rtype]
            for index in range(int(rspec.get("replicas", 1))):
                key = (rtype.lower(), str(index))
                if key in by_key:
                    continue
                pod = self._pod(work.job, work.spec, rtype, index)
                try:
                    created = self.store.create("pods", pod, meta["namespace"])
                except ApiError as exc:
                    work.events.append(
                        ("Warning", "FailedCreatePod", f"Error creating: {exc.message}")
                    )
                    self.memo.retry_later(f"pytorch/{meta['uid']}")
                    continue
                by_key[key] = created
                work.events.append(
                    ("Normal", "SuccessfulCreatePod", f"Created pod: {created['metadata']['name']}")
                )
                self._service(work.job, work.spec, rtype, index)
        return by_key

    def _past_deadline(self, work: _Pass) -> bool:
        """activeDeadlineSeconds: whether it has passed (then the job failed)."""
        meta, status = work.job["metadata"], work.status
        deadline = (work.spec.get("runPolicy") or {}).get("activeDeadlineSeconds")
        left = (
            float(deadline) - (time.time() - kube.parse_time(status["startTime"]))
            if deadline
            else 1.0
        )
        if deadline and left > 0:
            # Look again at the deadline.
            self.memo.retry_later(f"pytorch/{meta['uid']}", left + 0.05)
        if not (deadline and left <= 0):
            return False
        # pastActiveDeadline of training-operator v1.9: the pods go, the job fails.
        for pod in work.pods:
            self.delete_quietly("pods", meta["namespace"], pod["metadata"]["name"])
        msg = f"Job {meta['name']} has failed because it was active longer than specified deadline"
        status.setdefault("completionTime", kube.now_iso())
        _set_job_condition(work.conditions, "Failed", "True", "PyTorchJobFailed", msg)
        work.events.append(("Normal", "PyTorchJobFailed", msg))
        return True

    def _pod(
        self, job: dict[str, Any], spec: dict[str, Any], rtype: str, index: int
    ) -> dict[str, Any]:
        meta = job["metadata"]
        name = meta["name"]
        rspec = spec["pytorchReplicaSpecs"][rtype]
        template = kube.clone(rspec.get("template") or {})
        tmeta = template.get("metadata") or {}
        labels = dict(tmeta.get("labels") or {})
        labels.update(
            {
                "training.kubeflow.org/operator-name": PYTORCH_OPERATOR,
                "training.kubeflow.org/job-name": name.replace("/", "-"),
                "training.kubeflow.org/replica-type": rtype.lower(),
                "training.kubeflow.org/replica-index": str(index),
            }
        )
        if rtype == "Master":
            labels["training.kubeflow.org/job-role"] = "master"
        pod_spec = template.get("spec") or {}
        restart = rspec.get("restartPolicy") or "OnFailure"
        pod_spec["restartPolicy"] = "Never" if restart == "ExitCode" else restart
        replicas = spec["pytorchReplicaSpecs"]
        total = sum(int(r.get("replicas", 1)) for r in replicas.values())
        nproc = spec.get("nprocPerNode")
        nproc_int = int(nproc) if isinstance(nproc, str) and nproc.isdigit() else 1
        world = total * nproc_int
        master_port = pytorch_port(replicas, "Master")
        for container in pod_spec.get("containers") or []:
            env = list(container.get("env") or [])
            env.append({"name": "PYTHONUNBUFFERED", "value": "1"})
            if "Master" in replicas:
                addr = f"{name}-master-0"
                env += [
                    {"name": "MASTER_PORT", "value": str(master_port)},
                    {"name": "PET_MASTER_PORT", "value": str(master_port)},
                    {"name": "MASTER_ADDR", "value": addr},
                    {"name": "PET_MASTER_ADDR", "value": addr},
                ]
                rank = index + 1 if rtype == "Worker" else index
                env += [
                    {"name": "WORLD_SIZE", "value": str(world)},
                    {"name": "RANK", "value": str(rank)},
                    {"name": "PET_NODE_RANK", "value": str(rank)},
                ]
            if nproc is not None:
                env.append({"name": "PET_NPROC_PER_NODE", "value": str(nproc)})
            elastic = spec.get("elasticPolicy")
            if elastic:
                env += elastic_env(name, spec, elastic)
            else:
                env.append({"name": "PET_NNODES", "value": str(total)})
            container["env"] = env
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{rtype.lower()}-{index}",
                "namespace": meta["namespace"],
                "labels": labels,
                **({"annotations": dict(tmeta["annotations"])} if tmeta.get("annotations") else {}),
                "ownerReferences": [owner_ref(job)],
            },
            "spec": pod_spec,
        }

    def _service(self, job: dict[str, Any], spec: dict[str, Any], rtype: str, index: int) -> None:
        meta = job["metadata"]
        name = f"{meta['name']}-{rtype.lower()}-{index}"
        if self.store.try_get("services", meta["namespace"], name, copy_=False) is not None:
            return
        port = pytorch_port(spec["pytorchReplicaSpecs"], rtype)
        selector = {
            "training.kubeflow.org/operator-name": PYTORCH_OPERATOR,
            "training.kubeflow.org/job-name": meta["name"],
            "training.kubeflow.org/replica-type": rtype.lower(),
            "training.kubeflow.org/replica-index": str(index),
        }
        ports = [{"name": PYTORCH_PORT_NAME, "port": port, "targetPort": port}]
        self.create_headless_service(
            name, job, {"selector": selector, "ports": ports}, labels=dict(selector)
        )


def _replica_statuses(work: _Pass, by_key: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Each replica type's active/succeeded/failed pods (UpdateJobStatus of v1.9)."""
    name, replicas = work.job["metadata"]["name"], work.replicas
    for rtype in ordered_replica_types(replicas):
        active = succeeded = failed = 0
        for (rt_lower, _), pod in by_key.items():
            if rt_lower != rtype.lower():
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Running":
                active += 1
            elif phase == "Succeeded":
                succeeded += 1
            elif phase == "Failed":
                failed += 1
        selector = (
            f"training.kubeflow.org/job-name={name},training.kubeflow.org/operator-name={PYTORCH_OPERATOR},"
            f"training.kubeflow.org/replica-type={rtype.lower()}"
        )
        work.replica_statuses[rtype] = {
            "active": active,
            "succeeded": succeeded,
            "failed": failed,
            "selector": selector,
        }


def _job_conditions(work: _Pass) -> None:
    """Running, Succeeded or Failed from the replica statuses (UpdateJobStatus of v1.9)."""
    name, ns = work.job["metadata"]["name"], work.job["metadata"]["namespace"]
    replicas, status, events = work.replicas, work.status, work.events
    replica_statuses, conditions = work.replica_statuses, work.conditions
    has_master = "Master" in replicas
    for rtype in ordered_replica_types(replicas):
        rspec = replicas[rtype]
        rs = replica_statuses[rtype]
        expected = int(rspec.get("replicas", 1)) - rs["succeeded"]
        if has_master:
            if rtype == "Master":
                if rs["active"] > 0:
                    _set_job_condition(
                        conditions,
                        "Running",
                        "True",
                        "PyTorchJobRunning",
                        f"PyTorchJob {name} is running.",
                    )
                if expected == 0:
                    msg = f"PyTorchJob {name} is successfully completed."
                    status.setdefault("completionTime", kube.now_iso())
                    _set_job_condition(conditions, "Succeeded", "True", "PyTorchJobSucceeded", msg)
                    events.append(("Normal", "PyTorchJobSucceeded", msg))
                    break
        elif rtype == "Worker":
            if expected == 0 or (work.spec.get("elasticPolicy") and rs["succeeded"] > 0):
                msg = f"PyTorchJob {ns}/{name} successfully completed."
                status.setdefault("completionTime", kube.now_iso())
                _set_job_condition(conditions, "Succeeded", "True", "PyTorchJobSucceeded", msg)
                events.append(("Normal", "PyTorchJobSucceeded", msg))
            elif rs["active"] > 0:
                _set_job_condition(
                    conditions,
                    "Running",
                    "True",
                    "PyTorchJobRunning",
                    f"PyTorchJob {ns}/{name} is running.",
                )
        if rs["failed"] > 0 and int(rspec.get("replicas", 1)) > rs["succeeded"] + rs["active"]:
            # restartPolicy OnFailure/Always/ExitCode are treated as Never (see KUBELET).
            msg = f"PyTorchJob {name} is failed because {rs['failed']} {rtype} replica(s) failed."
            status.setdefault("completionTime", kube.now_iso())
            _set_job_condition(conditions, "Failed", "True", "PyTorchJobFailed", msg)
            events.append(("Normal", "PyTorchJobFailed", msg))


def _set_job_condition(
    conds: list[dict[str, Any]], ctype: str, status: str, reason: str, message: str
) -> None:
    """training-operator v1 ``UpdateJobConditions``/``setCondition``."""
    if is_true(conds, "Failed"):
        return
    cur = condition(conds, ctype)
    if cur and cur.get("status") == status and cur.get("reason") == reason:
        return
    now = kube.now_iso()
    new = {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": cur["lastTransitionTime"]
        if cur and cur.get("status") == status
        else now,
    }
    kept = []
    for c in conds:
        if (ctype == "Restarting" and c["type"] == "Running") or (
            ctype == "Running" and c["type"] == "Restarting"
        ):
            continue
        if c["type"] == ctype:
            continue
        if ctype in ("Failed", "Succeeded") and c["type"] == "Running":
            c = dict(c, status="False")
        kept.append(c)
    kept.append(new)
    conds[:] = kept
