"""The objects a labrig job becomes on Kubernetes, as plain dicts (pure functions: golden files and
schema validation test them without a cluster).

One job = a ConfigMap with the job's description (and its snapshot when small) plus one
PyTorchJob (kubeflow.org/v1: a Master and nodes-1 Workers) or one TrainJob
(trainer.kubeflow.org/v1alpha1). Every replica runs ``python -m labrig.jobs.launcher`` which
starts the node's ranks under torchrun with the operator's environment, exactly as a local job's
supervisor does; the ranks report to the job's folder on shared storage.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from traitlets import TraitError

from ..jobs.secret_settings import names_a_secret, split_secrets
from .client import CONFIGMAP, PYTORCHJOB, TRAINJOB
from .datasets import DatasetMount, dataset_volumes, versions_annotation

MANAGED_BY = {"app.kubernetes.io/managed-by": "labrig"}
JOB_LABEL = "labrig.io/job-id"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
SPEC_DIR = "/labrig/job"
WORK_DIR = "/labrig/work"
PATCH_MANAGER = "labrig.io/labrig"
#: The container name each training API expects its training code in.
CONTAINER = {"pytorchjob": "pytorch", "trainjob": "node"}
MASTER_PORT = 23456


@dataclass(frozen=True)
class Placement:
    """Where a job's pods may run (per resource profile)."""

    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    affinity: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterSettings:
    """``KubernetesJobBackend``'s settings, as the builders need them."""

    namespace: str
    image: str
    job_api: str = "pytorchjob"
    trainjob_runtime: str = "torch-distributed"
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = ()
    service_account: str = ""
    gpu_resource: str = "nvidia.com/gpu"
    queue_name: str = ""
    priority_class: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    storage_env: tuple[dict[str, Any], ...] = ()
    storage_pvc: str = ""
    storage_mount: str = "/labrig/storage"
    data_pvc: str = ""
    data_mount: str = ""
    ttl_after_finished: int | None = None


@dataclass(frozen=True)
class RankJob:
    """One job as the builders need it."""

    job_id: str
    name: str
    notebook_path: str
    snapshot_sha256: str
    nodes: int
    procs_per_node: int
    cpus: float | None
    memory: int | None
    gpus: int
    timeout: int | None
    env: dict[str, str]
    store_url: str
    store_options: dict[str, Any]
    placement: Placement = field(default_factory=Placement)
    priority_class: str = ""
    #: Dataset versions the ranks read, each mounted read-only at its local path.
    datasets: tuple[DatasetMount, ...] = ()


def object_name(job_id: str) -> str:
    return f"labrig-{job_id}"


def labels(settings: ClusterSettings, job_id: str) -> dict[str, str]:
    return {**settings.labels, **MANAGED_BY, JOB_LABEL: job_id}


def _metadata(settings: ClusterSettings, job: RankJob, extra: dict[str, str]) -> dict[str, Any]:
    return {
        "name": object_name(job.job_id),
        "namespace": settings.namespace,
        "labels": {**labels(settings, job.job_id), **extra},
        "annotations": {
            **settings.annotations,
            "labrig.io/notebook": job.notebook_path,
            "labrig.io/snapshot-sha256": job.snapshot_sha256,
            "labrig.io/name": job.name[:253],
        },
    }


def config_map(
    settings: ClusterSettings, job: RankJob, description: dict[str, Any], snapshot: str | None
) -> dict[str, Any]:
    """The job's description for its ranks (and the snapshot itself when it is small)."""
    data = {"job.json": json.dumps(description, indent=1, sort_keys=True)}
    if snapshot is not None:
        data["snapshot.ipynb"] = snapshot
    meta = _metadata(settings, job, {})
    meta.pop("annotations")
    return {
        "apiVersion": CONFIGMAP.api_version,
        "kind": CONFIGMAP.kind,
        "metadata": meta,
        "data": data,
    }


def _quantity(cpus: float) -> str:
    return f"{round(cpus * 1000)}m" if cpus != int(cpus) else str(int(cpus))


def node_resources(settings: ClusterSettings, job: RankJob) -> dict[str, Any]:
    """Requests and limits of one node (all of its ranks): what the notebook's kernel had."""
    per = job.procs_per_node
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if job.cpus:
        requests["cpu"] = limits["cpu"] = _quantity(job.cpus * per)
    if job.memory:
        requests["memory"] = limits["memory"] = str(job.memory * per)
    if job.gpus:
        requests[settings.gpu_resource] = limits[settings.gpu_resource] = str(job.gpus * per)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def literal_credentials(entries: Sequence[dict[str, Any]]) -> list[str]:
    """The env entries that would put a credential into the pod spec as a literal value (seen
    by whoever may read the job's pods), instead of referring to a Secret."""
    return [
        str(entry.get("name"))
        for entry in entries
        if entry.get("value") and names_a_secret(str(entry.get("name", "")))
    ]


def refuse_literal_credentials(setting: str, entries: Sequence[dict[str, Any]], seen: str) -> None:
    """Refuse env entries of ``setting`` that give a credential as a literal value, which
    anyone who can read ``seen`` (the pods it goes into) would see; the message names the
    variables and how to refer to a Secret instead, never the values."""
    literal = literal_credentials(entries)
    if literal:
        raise TraitError(
            f"{setting} gives {', '.join(literal)} as a literal value, which anyone who can read "
            f"{seen} would see; refer to a Secret instead: "
            '{"name": ..., "valueFrom": {"secretKeyRef": {"name": SECRET, "key": KEY}}}'
        )


def credential_options(options: dict[str, Any]) -> list[str]:
    """The options (dotted paths) holding credentials, which the job's ConfigMap and pod spec
    would show."""
    return [".".join(str(step) for step in path) for path, _value in split_secrets(options)[1]]


def _env(settings: ClusterSettings, job: RankJob) -> list[dict[str, Any]]:
    env = [{"name": name, "value": value} for name, value in sorted(job.env.items())]
    env += [
        {"name": "LABRIG_JOB_STORE", "value": job.store_url},
        {"name": "LABRIG_JOB_STORE_OPTIONS", "value": json.dumps(job.store_options)},
        {"name": "LABRIG_WORK_DIR", "value": WORK_DIR},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    return env + [dict(entry) for entry in settings.storage_env]


def _volumes(settings: ClusterSettings, job: RankJob) -> tuple[list[Any], list[Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "job", "configMap": {"name": object_name(job.job_id)}},
        {"name": "work", "emptyDir": {}},
        {"name": "dshm", "emptyDir": {"medium": "Memory"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "job", "mountPath": SPEC_DIR, "readOnly": True},
        {"name": "work", "mountPath": WORK_DIR},
        {"name": "dshm", "mountPath": "/dev/shm"},
    ]
    if settings.storage_pvc:
        volumes.append(
            {"name": "storage", "persistentVolumeClaim": {"claimName": settings.storage_pvc}}
        )
        mounts.append({"name": "storage", "mountPath": settings.storage_mount})
    if settings.data_pvc:
        volumes.append(
            {
                "name": "data",
                "persistentVolumeClaim": {"claimName": settings.data_pvc, "readOnly": True},
            }
        )
        mounts.append({"name": "data", "mountPath": settings.data_mount, "readOnly": True})
    dataset_vols, dataset_mounts = dataset_volumes(list(job.datasets))
    return volumes + dataset_vols, mounts + dataset_mounts


def _template_metadata(settings: ClusterSettings, job: RankJob) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": labels(settings, job.job_id)}
    pinned = versions_annotation(list(job.datasets))
    if pinned:
        meta["annotations"] = pinned
    return meta


def _pod_spec(settings: ClusterSettings, job: RankJob, container: dict[str, Any]) -> dict[str, Any]:
    volumes, mounts = _volumes(settings, job)
    spec: dict[str, Any] = {
        "containers": [{**container, "volumeMounts": mounts}],
        "volumes": volumes,
    }
    add_identity_and_placement(
        spec, settings.service_account, settings.image_pull_secrets, job.placement
    )
    return spec


def add_identity_and_placement(
    spec: dict[str, Any],
    service_account: str,
    image_pull_secrets: Sequence[str],
    placement: Placement,
) -> None:
    """What every labrig pod spec (ranks, kernels) takes from the settings: who it runs as,
    how it pulls its image, and where it may be scheduled."""
    if service_account:
        spec["serviceAccountName"] = service_account
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in image_pull_secrets]
    if placement.node_selector:
        spec["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        spec["tolerations"] = [dict(t) for t in placement.tolerations]
    if placement.affinity:
        spec["affinity"] = dict(placement.affinity)


def _container(settings: ClusterSettings, job: RankJob, name: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "labrig.jobs.launcher", SPEC_DIR],
        "workingDir": WORK_DIR,
        "env": _env(settings, job),
        "resources": node_resources(settings, job),
    }
    if name == CONTAINER["pytorchjob"]:
        container["ports"] = [{"name": "pytorchjob-port", "containerPort": MASTER_PORT}]
    return container


def _queue_labels(settings: ClusterSettings, job: RankJob) -> dict[str, str]:
    out = {}
    if settings.queue_name:
        out[QUEUE_LABEL] = settings.queue_name
        if job.priority_class or settings.priority_class:
            out[PRIORITY_LABEL] = job.priority_class or settings.priority_class
    return out


def pytorchjob(settings: ClusterSettings, job: RankJob) -> dict[str, Any]:
    """A PyTorchJob with a Master and ``nodes - 1`` Workers, each running one node's ranks.

    With a Kueue LocalQueue it is created suspended; Kueue unsuspends it once admitted."""
    template = {
        "metadata": _template_metadata(settings, job),
        "spec": _pod_spec(settings, job, _container(settings, job, CONTAINER["pytorchjob"])),
    }
    replicas: dict[str, Any] = {
        "Master": {"replicas": 1, "restartPolicy": "Never", "template": template}
    }
    if job.nodes > 1:
        replicas["Worker"] = {
            "replicas": job.nodes - 1,
            "restartPolicy": "Never",
            "template": copy.deepcopy(template),
        }
    run_policy: dict[str, Any] = {"backoffLimit": 0, "cleanPodPolicy": "None"}
    if settings.queue_name:
        run_policy["suspend"] = True
    if job.timeout:
        run_policy["activeDeadlineSeconds"] = job.timeout
    if settings.ttl_after_finished is not None:
        run_policy["ttlSecondsAfterFinished"] = settings.ttl_after_finished
    return {
        "apiVersion": PYTORCHJOB.api_version,
        "kind": PYTORCHJOB.kind,
        "metadata": _metadata(settings, job, _queue_labels(settings, job)),
        "spec": {
            "nprocPerNode": str(job.procs_per_node),
            "runPolicy": run_policy,
            "pytorchReplicaSpecs": replicas,
        },
    }


def trainjob(settings: ClusterSettings, job: RankJob) -> dict[str, Any]:
    """A TrainJob on the configured torch runtime; labrig's pod settings travel as a runtime
    patch of the ``node`` replicated job."""
    container = _container(settings, job, CONTAINER["trainjob"])
    pod = _pod_spec(settings, job, {"name": container["name"]})
    trainer: dict[str, Any] = {
        "image": settings.image,
        "command": container["command"],
        "env": container["env"],
        "numNodes": job.nodes,
        "numProcPerNode": job.procs_per_node,
    }
    resources = container["resources"]
    if resources:
        trainer["resourcesPerNode"] = resources
    spec: dict[str, Any] = {
        "runtimeRef": {
            "name": settings.trainjob_runtime,
            "apiGroup": "trainer.kubeflow.org",
            "kind": "ClusterTrainingRuntime",
        },
        "trainer": trainer,
        "runtimePatches": [
            {
                "manager": PATCH_MANAGER,
                "trainingRuntimeSpec": {
                    "template": {
                        "spec": {
                            "replicatedJobs": [
                                {
                                    "name": "node",
                                    "template": {
                                        "spec": {
                                            "template": {
                                                "metadata": _template_metadata(settings, job),
                                                "spec": pod,
                                            }
                                        }
                                    },
                                }
                            ]
                        }
                    }
                },
            }
        ],
    }
    if settings.queue_name:
        spec["suspend"] = True
    if job.timeout:
        spec["activeDeadlineSeconds"] = job.timeout
    return {
        "apiVersion": TRAINJOB.api_version,
        "kind": TRAINJOB.kind,
        "metadata": _metadata(settings, job, _queue_labels(settings, job)),
        "spec": spec,
    }


def training_job(settings: ClusterSettings, job: RankJob) -> dict[str, Any]:
    return trainjob(settings, job) if settings.job_api == "trainjob" else pytorchjob(settings, job)
