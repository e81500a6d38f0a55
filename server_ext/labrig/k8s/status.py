"""What a job's Kubernetes objects say, as labrig's states and one-line reasons (pure functions).

The same states and reasons as a local job: Kueue's pending message while QUEUED, the
scheduler's while no node fits, an image that cannot be pulled, a memory limit hit by a named
rank, an eviction, a failed cell named by its rank's own report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..jobs.backend import Observation

WAITING_FAILURES = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
}


@dataclass(frozen=True)
class JobObjects:
    """What the cluster holds for one labrig job."""

    api: str  # "pytorchjob" or "trainjob"
    job: dict[str, Any] | None
    workload: dict[str, Any] | None
    pods: list[dict[str, Any]]


def _true(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return {c["type"]: c for c in conditions if c.get("status") == "True"}


def _false(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return {c["type"]: c for c in conditions if c.get("status") == "False"}


def suspended(objects: JobObjects) -> bool:
    spec = (objects.job or {}).get("spec") or {}
    if objects.api == "trainjob":
        return bool(spec.get("suspend"))
    return bool((spec.get("runPolicy") or {}).get("suspend"))


def node_of(pod: dict[str, Any], api: str) -> int:
    """Which node (replica) of the job a pod is: Master 0, Worker i is i+1; a TrainJob's pods by
    their completion index."""
    pod_labels = (pod.get("metadata") or {}).get("labels") or {}
    if api == "trainjob":
        return int(pod_labels.get("batch.kubernetes.io/job-completion-index", 0))
    index = int(pod_labels.get("training.kubeflow.org/replica-index", 0))
    return 0 if pod_labels.get("training.kubeflow.org/replica-type") == "master" else index + 1


def _ranks(node: int, per_node: int) -> str:
    if per_node == 1:
        return f"rank {node}"
    return f"ranks {node * per_node}-{(node + 1) * per_node - 1}"


def _container_states(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [s.get("state") or {} for s in (pod.get("status") or {}).get("containerStatuses") or []]


def queue_reason(objects: JobObjects, queue: str) -> str:
    """Why Kueue holds the job: its Workload's message, or that it has none yet."""
    workload = objects.workload
    if workload is None:
        return f"waiting for Kueue to queue it in {queue or 'its LocalQueue'}"
    for kind in ("Evicted", "Preempted"):
        evicted = _true(workload).get(kind)
        if evicted:
            return f"waiting in queue {queue}: {evicted.get('message') or kind}"
    pending = _false(workload).get("QuotaReserved") or _false(workload).get("Admitted")
    if pending and pending.get("message"):
        return f"waiting in queue {queue}: {pending['message']}"
    return f"waiting in queue {queue} for Kueue to admit it"


def pending_reason(objects: JobObjects, per_node: int) -> tuple[str, str] | None:
    """(state, reason) while pods are not all running: the scheduler's message, an image that
    cannot be pulled, or pods still being created."""
    for pod in sorted(objects.pods, key=lambda p: node_of(p, objects.api)):
        node = node_of(pod, objects.api)
        status = pod.get("status") or {}
        scheduled = {c.get("type"): c for c in status.get("conditions") or []}.get("PodScheduled")
        if scheduled and scheduled.get("status") == "False":
            message = scheduled.get("message") or scheduled.get("reason") or "no node fits"
            return "QUEUED", f"waiting for a node: {message}"
        for state in _container_states(pod):
            waiting = state.get("waiting") or {}
            if waiting.get("reason") in WAITING_FAILURES:
                image = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("image", "")
                detail = waiting.get("message") or waiting["reason"]
                return "STARTING", (
                    f"{_ranks(node, per_node)}: image {image} cannot be started "
                    f"({waiting['reason']}): {detail}"
                )
    return None


def failure_reason(
    objects: JobObjects,
    spec: dict[str, Any],
    results: Callable[[], dict[int, dict[str, Any]]],
) -> str:
    """The one-line reason of a failed job, most telling first: a memory limit or an eviction
    (the rank could not report), a rank's own report (a failed cell), a timeout, an exit code."""
    per_node = int(spec.get("procs_per_node", 1))
    pods = sorted(objects.pods, key=lambda p: node_of(p, objects.api))
    for pod in pods:
        ranks = _ranks(node_of(pod, objects.api), per_node)
        status = pod.get("status") or {}
        if status.get("reason") == "Evicted":
            return f"{ranks} evicted: {status.get('message') or 'by the node'}"
        for state in _container_states(pod):
            if (state.get("terminated") or {}).get("reason") == "OOMKilled":
                memory = spec.get("memory")
                limit = f" ({memory / 2**20:.0f} MiB per process)" if memory else ""
                return f"stopped: memory limit{limit} exceeded by {ranks}"
    for _rank, result in sorted(results().items()):
        if not result.get("ok") and result.get("reason"):
            return str(result["reason"])
    failed = _true(objects.job).get("Failed") or {}
    # Jobs and JobSets say DeadlineExceeded; training-operator v1.9 says so in its message.
    past_deadline = failed.get("reason") == "DeadlineExceeded" or "deadline" in str(
        failed.get("message", "")
    )
    if past_deadline and spec.get("timeout"):
        return f"timed out after {spec['timeout']} s"
    for pod in pods:
        for state in _container_states(pod):
            code = (state.get("terminated") or {}).get("exitCode")
            if code:
                ranks = _ranks(node_of(pod, objects.api), per_node)
                return f"{ranks} exited with code {code} without a report"
    return str(failed.get("message") or "the training operator marked the job Failed")


def observe(
    objects: JobObjects,
    spec: dict[str, Any],
    queue: str,
    results: Callable[[], dict[int, dict[str, Any]]],
) -> Observation:
    """The job's state and one-line reason."""
    if objects.job is None:
        return Observation("FAILED", "its Kubernetes job was deleted outside labrig")
    done = _true(objects.job)
    if "Succeeded" in done or "Complete" in done:
        return Observation("SUCCEEDED", None)
    if "Failed" in done:
        return Observation("FAILED", failure_reason(objects, spec, results))
    if suspended(objects):
        return Observation("QUEUED", queue_reason(objects, queue) if queue else "suspended")
    per_node = int(spec.get("procs_per_node", 1))
    pending = pending_reason(objects, per_node)
    if pending is not None:
        return Observation(*pending)
    nodes = int(spec.get("nodes", 1))
    running = [p for p in objects.pods if (p.get("status") or {}).get("phase") == "Running"]
    if len(running) >= nodes:
        return Observation("RUNNING", None)
    if not objects.pods:
        return Observation("STARTING", "the training operator is creating the pods")
    return Observation("STARTING", f"{len(running)} of {nodes} pods running")
