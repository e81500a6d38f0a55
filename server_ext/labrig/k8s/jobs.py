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

from ..errors import CapacityExceeded, Conflict, LabrigError
from ..jobs.backend import (
    JobRef,
    LaunchRequest,
    LogChunk,
    Observation,
    RankReport,
    Staged,
)
from ..jobs.remote import rank_prefix
from ..jobs.runtime import FINAL
from ..jobs.transport import JobFolder, open_fs
from . import manifests
from .client import CONFIGMAP, NODE, POD, WORKLOAD, ClusterRefused, Kube
from .settings import KubernetesJobSettings
from .status import JobObjects, node_of, observe
from .watch import Informer

#: A job the watch has not shown yet is not called deleted before this many seconds.
SEEN_GRACE = 30.0
PROGRESS_TTL = 1.0


class KubernetesJobBackend(KubernetesJobSettings):
    """Ranks in the pods of a Kubeflow PyTorchJob or TrainJob, admitted by Kueue."""

    @cached_property
    def kube(self) -> Kube:
        from .client import api_client

        return Kube(api_client(self.kubeconfig, self.context), self.namespace)

    @property
    def identity(self) -> str:
        try:
            host = self.kube.host
        except LabrigError:
            host = self.kubeconfig or "in-cluster"
        return f"kubernetes:{host}/{self.namespace}"

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

    # --- launch --------------------------------------------------------------------------------

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
        # A panel polls each running job's progress: read storage at most once a second (an
        # ended job's last reports are read fresh, they no longer change).
        cached = self._progress_cache.get(job.id)
        live = job.status not in FINAL
        if live and cached is not None and time.monotonic() - cached[0] < PROGRESS_TTL:
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
