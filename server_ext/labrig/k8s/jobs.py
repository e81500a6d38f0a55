"""The Kubernetes job backend: one labrig job = one Kubeflow PyTorchJob (kubeflow.org/v1) or
TrainJob (trainer.kubeflow.org/v1alpha1), queued by Kueue when a LocalQueue is configured.

Ranks run labrig's own launcher and worker in the configured image and report to the job's
folder on shared storage (``jobs.transport``); the server follows the jobs, their Kueue
Workloads and their pods with one list + watch per kind (``watch.Informer``) and maps them to
labrig's states (``status``). Logs stream from the pod log API while the pods live and from the
archive on shared storage afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from traitlets import Dict, Enum, Float, Int, List, Unicode, default

from ..errors import CapacityExceeded, Conflict, InvalidInput, LabrigError
from ..jobs.backend import (
    JobBackend,
    JobRef,
    LaunchRequest,
    LogChunk,
    Observation,
    RankReport,
    Staged,
)
from ..jobs.capacity import HostTotals
from ..jobs.remote import rank_prefix
from ..jobs.runtime import FINAL
from ..jobs.transport import JobFolder, open_fs
from . import manifests
from .client import CONFIGMAP, NODE, POD, PYTORCHJOB, TRAINJOB, WORKLOAD, ClusterRefused, Kube
from .status import JobObjects, node_of, observe
from .watch import Informer

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: A job the watch has not shown yet is not called deleted before this many seconds.
SEEN_GRACE = 30.0
PROGRESS_TTL = 1.0


class KubernetesJobBackend(JobBackend):
    """Ranks in the pods of a Kubeflow PyTorchJob or TrainJob, admitted by Kueue."""

    kind = "kubernetes"
    admits_in_cluster = True

    namespace = Unicode(
        config=True,
        help="""Namespace of labrig's jobs. Default: the server pod's own namespace when it runs
        in a cluster, else 'default'.""",
    )
    kubeconfig = Unicode(
        "",
        config=True,
        help="""Path of a kubeconfig file. Empty: the pod's service account when the server runs
        in a cluster, else $KUBECONFIG or ~/.kube/config.""",
    )
    context = Unicode("", config=True, help="The kubeconfig context to use (empty: its current).")
    image = Unicode(
        "",
        config=True,
        help="""Container image of job ranks: Python with labrig, papermill, torch and the kernels
        the notebooks use (examples/kubernetes/Dockerfile builds one). Required.""",
    )
    image_pull_policy = Enum(
        ["IfNotPresent", "Always", "Never"],
        "IfNotPresent",
        config=True,
        help="imagePullPolicy of the rank containers.",
    )
    image_pull_secrets = List(
        Unicode(), config=True, help="Names of Secrets used to pull the rank image."
    )
    service_account = Unicode(
        "", config=True, help="Service account of the rank pods (empty: the namespace default)."
    )
    gpu_resource = Unicode(
        "nvidia.com/gpu",
        config=True,
        help="Extended resource name GPUs are requested under (nvidia.com/gpu, amd.com/gpu, ...).",
    )
    job_api = Enum(
        ["pytorchjob", "trainjob"],
        "pytorchjob",
        config=True,
        help="""Which training API runs a job: 'pytorchjob' (Kubeflow training operator,
        kubeflow.org/v1) or 'trainjob' (Kubeflow Trainer, trainer.kubeflow.org/v1alpha1).""",
    )
    trainjob_runtime = Unicode(
        "torch-distributed",
        config=True,
        help="The ClusterTrainingRuntime a TrainJob uses (job_api = 'trainjob').",
    )
    queue_name = Unicode(
        "",
        config=True,
        help="""Kueue LocalQueue of labrig's jobs. Set: jobs are created suspended with the
        kueue.x-k8s.io/queue-name label and start when Kueue admits them. Empty: no Kueue.""",
    )
    priority_class = Unicode(
        "",
        config=True,
        help="Kueue WorkloadPriorityClass of labrig's jobs (kueue.x-k8s.io/priority-class).",
    )
    priority_classes = Dict(
        config=True,
        help="""labrig priority -> Kueue WorkloadPriorityClass, e.g. {"0": "low", "10": "high"}: a
        job gets the class of the highest priority at or below its own (else priority_class).""",
    )
    profiles = Dict(
        config=True,
        help="""Pod placement per resource profile slug: {"gpu-a100": {"node_selector": {...},
        "tolerations": [...], "affinity": {...}}}; the key "*" applies to every other profile.""",
    )
    storage_url = Unicode(
        "",
        config=True,
        help="""fsspec URL of the shared storage where jobs keep snapshots, progress, metrics,
        logs and outputs: s3://bucket/labrig, oss://bucket/labrig, or file:///path on a PVC
        (storage_pvc). Required: ranks share no disk with the server.""",
    )
    storage_options = Dict(
        config=True,
        help="fsspec options the server uses for storage_url (credentials, endpoint).",
    )
    rank_storage_options = Dict(
        config=True,
        help="""fsspec options the ranks use for storage_url, without secrets (they are visible
        in the pod spec), e.g. {"client_kwargs": {"endpoint_url": "http://minio:9000"}}.""",
    )
    storage_env = List(
        Dict(),
        config=True,
        help="""Environment entries of the rank containers carrying storage credentials, e.g.
        [{"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "labrig-s3",
        "key": "access-key"}}}].""",
    )
    storage_pvc = Unicode(
        "",
        config=True,
        help="PVC mounted in the rank pods at storage_mount, when storage_url is a file:// path.",
    )
    storage_mount = Unicode("/labrig/storage", config=True, help="Where ranks mount storage_pvc.")
    data_pvc = Unicode(
        "",
        config=True,
        help="""PVC holding labrig's data directory (the dataset cache and mount trees), mounted
        read-only in rank pods at the same path as on the server, so a job's datasets are at the
        same paths as locally. Jobs that ask for datasets are refused without it.""",
    )
    labels = Dict(config=True, help="Labels added to everything labrig creates.")
    annotations = Dict(config=True, help="Annotations added to everything labrig creates.")
    kernel_names = List(
        Unicode(),
        ["python3"],
        config=True,
        help="Kernels installed in the rank image (a notebook naming another one is refused).",
    )
    start_timeout = Float(
        600.0,
        config=True,
        help="""Seconds a job may stay STARTING with an image that cannot be pulled before it is
        failed and deleted.""",
    )
    ttl_after_finished = Int(
        None,
        allow_none=True,
        config=True,
        help="runPolicy.ttlSecondsAfterFinished of PyTorchJobs (None: keep them).",
    )
    configmap_max_bytes = Int(
        256 * 1024,
        config=True,
        help="Snapshots up to this size travel in the job's ConfigMap, larger ones by storage.",
    )

    @default("namespace")
    def _default_namespace(self) -> str:
        try:
            return IN_CLUSTER_NAMESPACE.read_text().strip() or "default"
        except OSError:
            return "default"

    @cached_property
    def kube(self) -> Kube:
        from .client import api_client

        return Kube(api_client(self.kubeconfig, self.context), self.namespace)

    @property
    def job_kind(self) -> Any:
        return TRAINJOB if self.job_api == "trainjob" else PYTORCHJOB

    @property
    def identity(self) -> str:
        try:
            host = self.kube.host
        except LabrigError:
            host = self.kubeconfig or "in-cluster"
        return f"kubernetes:{host}/{self.namespace}"

    def capabilities(self) -> dict[str, str]:
        api = f"{self.job_kind.kind} ({self.job_kind.api_version})"
        queue = f", queued by Kueue LocalQueue {self.queue_name}" if self.queue_name else ""
        return {"jobs.launcher": f"Kubernetes {api} in namespace {self.namespace}{queue}"}

    def host_limits(self, host: HostTotals) -> HostTotals | None:
        return None  # the cluster's nodes and Kueue's quota decide

    def kernels(self) -> set[str] | None:
        return set(self.kernel_names)

    def check(self, spec: dict[str, Any]) -> None:
        if not self.image:
            raise InvalidInput(
                "jobs on Kubernetes need a rank image: set KubernetesJobBackend.image",
                field="image",
            )
        if not self.storage_url:
            raise InvalidInput(
                "jobs on Kubernetes need shared storage: set KubernetesJobBackend.storage_url",
                field="storage_url",
            )
        if spec.get("datasets") and not self.data_pvc:
            raise InvalidInput(
                "datasets in Kubernetes jobs need labrig's data directory on a volume the pods "
                "mount: set KubernetesJobBackend.data_pvc",
                field="datasets",
            )

    # --- informers -----------------------------------------------------------------------------

    @cached_property
    def informers(self) -> dict[str, Informer]:
        selector = ",".join(f"{k}={v}" for k, v in manifests.MANAGED_BY.items())
        found = {
            "jobs": Informer(self.kube, self.job_kind, selector),
            "pods": Informer(self.kube, POD, selector),
        }
        if self.queue_name:
            found["workloads"] = Informer(self.kube, WORKLOAD, None)
        return found

    def start(self) -> None:
        for informer in self.informers.values():
            informer.start()

    def stop(self) -> None:
        for informer in self.informers.values():
            informer.stop()

    # --- storage -------------------------------------------------------------------------------

    def folder(self, job_id: str) -> JobFolder:
        fs, root = open_fs(self.storage_url, dict(self.storage_options))
        return JobFolder(fs, f"{root}/jobs/{job_id}")

    def _folder_url(self, job_id: str) -> str:
        return f"{self.storage_url.rstrip('/')}/jobs/{job_id}"

    # --- launch --------------------------------------------------------------------------------

    def settings(self) -> manifests.ClusterSettings:
        return manifests.ClusterSettings(
            namespace=self.namespace,
            image=self.image,
            job_api=self.job_api,
            trainjob_runtime=self.trainjob_runtime,
            image_pull_policy=self.image_pull_policy,
            image_pull_secrets=tuple(self.image_pull_secrets),
            service_account=self.service_account,
            gpu_resource=self.gpu_resource,
            queue_name=self.queue_name,
            priority_class=self.priority_class,
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            storage_env=tuple(self.storage_env),
            storage_pvc=self.storage_pvc,
            storage_mount=self.storage_mount,
            data_pvc=self.data_pvc,
            data_mount=str(self.data_dir),
            ttl_after_finished=self.ttl_after_finished,
        )

    def _priority_class(self, priority: int) -> str:
        chosen, best = "", None
        for threshold, name in self.priority_classes.items():
            if int(threshold) <= priority and (best is None or int(threshold) > best):
                chosen, best = str(name), int(threshold)
        return chosen

    def _placement(self, profile: str | None) -> manifests.Placement:
        entry = self.profiles.get(profile or "") or self.profiles.get("*") or {}
        return manifests.Placement(
            node_selector=dict(entry.get("node_selector") or {}),
            tolerations=list(entry.get("tolerations") or []),
            affinity=dict(entry.get("affinity") or {}),
        )

    def rank_job(self, request: LaunchRequest) -> manifests.RankJob:
        spec = request.spec
        return manifests.RankJob(
            job_id=request.job_id,
            name=request.name,
            notebook_path=request.notebook_path,
            snapshot_sha256=request.snapshot_sha256,
            nodes=int(spec.get("nodes", 1)),
            procs_per_node=int(spec.get("procs_per_node", 1)),
            cpus=spec.get("cpus"),
            memory=spec.get("memory"),
            gpus=int(spec.get("gpus") or 0),
            timeout=spec.get("timeout"),
            env=dict(request.env),
            store_url=self._folder_url(request.job_id),
            store_options=dict(self.rank_storage_options),
            placement=self._placement(spec.get("profile")),
            priority_class=self._priority_class(int(spec.get("priority") or 0)),
        )

    def description(self, request: LaunchRequest) -> dict[str, Any]:
        """The ranks' ``job.json``: what a local rank finds in its job folder."""
        spec = request.spec
        return {
            "job_id": request.job_id,
            "parameters": spec.get("parameters", {}),
            "kernel_name": spec.get("kernel_name"),
            "nodes": int(spec.get("nodes", 1)),
            "procs_per_node": int(spec.get("procs_per_node", 1)),
            "outputs": spec.get("outputs") or [],
            "cwd": manifests.WORK_DIR,
            "store": {
                "url": self._folder_url(request.job_id),
                "options": dict(self.rank_storage_options),
            },
        }

    def launch(self, request: LaunchRequest) -> dict[str, Any]:
        """Create the job's ConfigMap and training job (both idempotent: a retried launch finds
        what an earlier attempt created and creates nothing twice)."""
        if int(request.spec.get("gpus") or 0):
            self._check_gpu_resource()
        snapshot = request.snapshot.read_bytes()
        small = len(snapshot) <= self.configmap_max_bytes
        if not small:
            folder = self.folder(request.job_id)
            folder.put_bytes(folder.path("snapshot.ipynb"), snapshot)
        settings, job = self.settings(), self.rank_job(request)
        config_map = manifests.config_map(
            settings, job, self.description(request), snapshot.decode() if small else None
        )
        self._create_once(CONFIGMAP, config_map, request.job_id)
        created = self._create_once(
            self.job_kind, manifests.training_job(settings, job), request.job_id
        )
        meta = created["metadata"]
        owner = {
            "apiVersion": self.job_kind.api_version,
            "kind": self.job_kind.kind,
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": False,
        }
        self.kube.patch(CONFIGMAP, meta["name"], {"metadata": {"ownerReferences": [owner]}})
        return {
            "api": self.job_api,
            "namespace": self.namespace,
            "name": meta["name"],
            "uid": meta["uid"],
            "launched": time.time(),
        }

    def _create_once(self, kind: Any, body: dict[str, Any], job_id: str) -> dict[str, Any]:
        try:
            return self.kube.create(kind, body)
        except CapacityExceeded:
            raise  # a quota refused it: nothing exists yet
        except Conflict:
            existing = self.kube.get(kind, body["metadata"]["name"])
            owner = ((existing.get("metadata") or {}).get("labels") or {}).get(manifests.JOB_LABEL)
            if owner != job_id:
                raise ClusterRefused(
                    f"a {kind.kind} named {body['metadata']['name']} exists in namespace "
                    f"{self.namespace} and is not this job's; delete it or use another namespace"
                ) from None
            return existing

    def _check_gpu_resource(self) -> None:
        """Refuse at once when no node offers the configured GPU resource at all."""
        try:
            nodes = self.kube.list(NODE).get("items") or []
        except ClusterRefused:
            return  # labrig may not list nodes: the scheduler's message will say it
        offered = {
            name
            for node in nodes
            for name in ((node.get("status") or {}).get("allocatable") or {})
            if "/" in name
        }
        if nodes and self.gpu_resource not in offered:
            others = ", ".join(sorted(offered)) or "no extended resources"
            raise ClusterRefused(
                f"no node in the cluster offers {self.gpu_resource} "
                f"(KubernetesJobBackend.gpu_resource); the nodes offer {others}"
            )

    # --- following -----------------------------------------------------------------------------

    def cancel(self, job: JobRef) -> None:
        name = job.handle.get("name") or manifests.object_name(job.id)
        self.kube.delete(self.job_kind, name, propagation="Foreground")
        self.kube.delete(CONFIGMAP, name, propagation="Background")

    def _objects(self) -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, Any]]:
        jobs = {o["metadata"]["name"]: o for o in self.informers["jobs"].items()}
        pods: dict[str, list[Any]] = {}
        for pod in self.informers["pods"].items():
            job_id = ((pod.get("metadata") or {}).get("labels") or {}).get(manifests.JOB_LABEL)
            if job_id:
                pods.setdefault(job_id, []).append(pod)
        workloads: dict[str, Any] = {}
        if "workloads" in self.informers:
            for workload in self.informers["workloads"].items():
                for ref in (workload.get("metadata") or {}).get("ownerReferences") or []:
                    workloads[ref.get("uid")] = workload
        return jobs, pods, workloads

    def observe_jobs(self, jobs: list[JobRef]) -> dict[str, Observation]:
        launched = [job for job in jobs if job.handle]
        if not launched:
            return {}
        try:
            by_name, pods, workloads = self._objects()
        except LabrigError as err:
            return {job.id: Observation(None, f"state unknown: {err.message}") for job in launched}
        seen: dict[str, Observation] = {}
        for job in launched:
            obj = by_name.get(job.handle["name"])
            if obj is None and time.time() - job.handle.get("launched", 0) < SEEN_GRACE:
                continue
            objects = JobObjects(
                self.job_api, obj, workloads.get(str(job.handle.get("uid"))), pods.get(job.id, [])
            )
            observed = observe(objects, job.spec, self.queue_name, self._results(job))
            if (
                observed.status == "STARTING"
                and observed.reason
                and "cannot be started" in observed.reason
                and time.time() - job.handle.get("launched", 0) > self.start_timeout
            ):
                self.cancel(job)
                observed = Observation(
                    "FAILED", f"{observed.reason} (gave up after {self.start_timeout:g} s)"
                )
            seen[job.id] = observed
        return seen

    def _results(self, job: JobRef) -> Callable[[], dict[int, dict[str, Any]]]:
        def read() -> dict[int, dict[str, Any]]:
            folder = self.folder(job.id)
            found = {}
            for rank in range(job.world_size):
                result = folder.result(rank)
                if result is not None:
                    found[rank] = result
            return found

        return read

    # --- reports -------------------------------------------------------------------------------

    def logs(self, job: JobRef, rank: int, offset: int, limit: int) -> LogChunk:
        if job.status not in FINAL and job.handle:
            live = self._pod_log(job, rank)
            if live is not None:
                data = live[offset : offset + limit]
                cut = data.rfind(b"\n")
                data = data[: cut + 1] if cut >= 0 else b""
                return LogChunk(data, offset + len(data), len(live))
        return self.folder(job.id).read_appended(rank, "log", offset, limit)

    def _pod_log(self, job: JobRef, rank: int) -> bytes | None:
        """The rank's lines of its pod's log (the ranks of a pod tell theirs apart by prefix);
        None when the pod cannot be read (not started, or gone)."""
        per_node = int(job.spec.get("procs_per_node", 1))
        node = rank // per_node
        try:
            pods = [
                p
                for p in self.informers["pods"].items()
                if ((p.get("metadata") or {}).get("labels") or {}).get(manifests.JOB_LABEL)
                == job.id
            ]
            pod = next((p for p in pods if node_of(p, self.job_api) == node), None)
            if pod is None:
                return None
            text = self.kube.pod_log(pod["metadata"]["name"], manifests.CONTAINER[self.job_api])
        except LabrigError:
            return None
        prefix = rank_prefix(rank)
        lines = text.encode().split(b"\n")
        complete = lines[:-1]  # the last piece has no line break yet
        return b"".join(line[len(prefix) :] + b"\n" for line in complete if line.startswith(prefix))

    def progress(self, job: JobRef) -> list[RankReport]:
        cached = self._progress_cache.get(job.id)
        if cached is not None and time.monotonic() - cached[0] < PROGRESS_TTL:
            return cached[1]
        folder = self.folder(job.id)
        reports = [RankReport(rank, folder.progress(rank)) for rank in range(job.world_size)]
        self._progress_cache[job.id] = (time.monotonic(), reports)
        return reports

    @cached_property
    def _progress_cache(self) -> dict[str, tuple[float, list[RankReport]]]:
        return {}

    def metrics(self, job: JobRef, rank: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return self.folder(job.id).metrics(rank, offset)

    def fetch_output(self, job: JobRef, dest: Path) -> bool:
        return self.folder(job.id).fetch_output(dest)

    def staged_outputs(self, job: JobRef, into: Path) -> list[Staged]:
        return self.folder(job.id).staged(into)

    def forget(self, job: JobRef) -> None:
        if job.handle:
            self.cancel(job)
        self.folder(job.id).remove()
