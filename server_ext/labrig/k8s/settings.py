"""``KubernetesJobBackend``'s settings (every one a traitlet documented in the README) and what
they make of a job: the inputs of the manifest builders, the ranks' job description, the checks
made at submission."""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Enum, Float, Int, List, TraitError, Unicode, validate

from ..errors import InvalidInput
from ..jobs.backend import JobBackend, LaunchRequest
from ..jobs.capacity import HostTotals
from . import manifests
from .client import PYTORCHJOB, TRAINJOB, Kind
from .datasets import cluster_cache, job_dataset_mounts
from .pod_settings import KubernetesPodSettings


class KubernetesJobSettings(JobBackend, KubernetesPodSettings):
    """The settings of the Kubernetes job backend (configured as ``KubernetesJobBackend``)."""

    kind = "kubernetes"
    admits_in_cluster = True

    image = Unicode(
        "",
        config=True,
        help="""Container image of job ranks: Python with labrig, papermill, torch and the kernels
        the notebooks use (examples/kubernetes/Dockerfile builds one). Required.""",
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

    @validate("storage_env")
    def _no_literal_credentials(self, proposal: Any) -> Any:
        entries = proposal["value"]
        manifests.refuse_literal_credentials(
            "KubernetesJobBackend.storage_env", entries, "the job's pods"
        )
        return entries

    @validate("rank_storage_options")
    def _no_credential_options(self, proposal: Any) -> Any:
        found = manifests.credential_options(proposal["value"])
        if found:
            raise TraitError(
                f"KubernetesJobBackend.rank_storage_options holds credentials ({', '.join(found)})"
                ", which the job's ConfigMap and pod spec would show; give them to the ranks "
                "from a Secret through KubernetesJobBackend.storage_env"
            )
        return proposal["value"]

    def _folder_url(self, job_id: str) -> str:
        return f"{self.storage_url.rstrip('/')}/jobs/{job_id}"

    @property
    def job_kind(self) -> Kind:
        return TRAINJOB if self.job_api == "trainjob" else PYTORCHJOB

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
        if spec.get("datasets"):
            self._check_dataset_volumes()

    def _check_dataset_volumes(self) -> None:
        on_cluster = cluster_cache(self.parent) is not None
        if on_cluster and self.data_pvc:
            # Fluid's claims mount under the data directory's path: inside a read-only volume
            # the container runtime could not create their mount points.
            raise InvalidInput(
                "KubernetesJobBackend.data_pvc carries the local dataset cache; with "
                "FluidDatasetCache the datasets come from their own claims: leave data_pvc empty",
                field="datasets",
            )
        if not on_cluster and not self.data_pvc:
            raise InvalidInput(
                "datasets in Kubernetes jobs need labrig's data directory on a volume the pods "
                "mount (set KubernetesJobBackend.data_pvc) or a cluster dataset cache (set "
                "LabrigApp.dataset_cache_class to labrig.k8s.fluid.FluidDatasetCache)",
                field="datasets",
            )

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
            placement=self.placement(spec.get("profile")),
            priority_class=self._priority_class(int(spec.get("priority") or 0)),
            datasets=job_dataset_mounts(request, self.parent),
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
