"""What a job's Kubernetes objects mean for labrig: the state and the one-line reason."""

from __future__ import annotations

from typing import Any

import pytest

from labrig.k8s.status import JobObjects, observe

SPEC = {"nodes": 2, "procs_per_node": 1, "memory": 512 * 2**20, "timeout": 60}


def job(*conditions: tuple[str, str], suspend: bool = False, reason: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": "labrig-j1", "uid": "u1"},
        "spec": {"runPolicy": {"suspend": suspend}},
        "status": {
            "conditions": [
                {"type": kind, "status": status, "reason": reason, "message": f"{kind} message"}
                for kind, status in conditions
            ]
        },
    }


def pod(replica: str, index: int, phase: str = "Running", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"labrig-j1-{replica}-{index}",
            "labels": {
                "training.kubeflow.org/replica-type": replica,
                "training.kubeflow.org/replica-index": str(index),
            },
        },
        "spec": {"containers": [{"name": "pytorch", "image": "registry.example/rank:1"}]},
        "status": {"phase": phase, **status},
    }


def none() -> dict[int, dict[str, Any]]:
    return {}


def test_a_job_held_by_kueue_is_queued_with_the_queues_message() -> None:
    workload = {
        "status": {
            "conditions": [
                {
                    "type": "QuotaReserved",
                    "status": "False",
                    "reason": "Pending",
                    "message": "couldn't assign flavors to pod set master: insufficient unused "
                    "quota for nvidia.com/gpu in flavor default, 2 more needed",
                }
            ]
        }
    }
    seen = observe(JobObjects("pytorchjob", job(suspend=True), workload, []), SPEC, "ml", none)
    assert seen.status == "QUEUED"
    assert seen.reason == (
        "waiting in queue ml: couldn't assign flavors to pod set master: insufficient unused "
        "quota for nvidia.com/gpu in flavor default, 2 more needed"
    )
    waiting = observe(JobObjects("pytorchjob", job(suspend=True), None, []), SPEC, "ml", none)
    assert (waiting.status, waiting.reason) == ("QUEUED", "waiting for Kueue to queue it in ml")


def test_an_unschedulable_pod_queues_the_job_with_the_schedulers_message() -> None:
    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    pending = pod(
        "master",
        0,
        "Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
            }
        ],
    )
    seen = observe(JobObjects("pytorchjob", job(), None, [pending]), SPEC, "", none)
    assert (seen.status, seen.reason) == ("QUEUED", f"waiting for a node: {message}")


def test_an_image_that_cannot_be_pulled_is_named_with_the_rank() -> None:
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x"'}}
    stuck = pod("worker", 0, "Pending", containerStatuses=[{"state": waiting}])
    seen = observe(JobObjects("pytorchjob", job(), None, [pod("master", 0), stuck]), SPEC, "", none)
    assert seen.status == "STARTING"
    assert seen.reason == (
        "rank 1: image registry.example/rank:1 cannot be started (ImagePullBackOff): "
        'Back-off pulling image "x"'
    )


def test_running_when_every_node_runs_and_the_operators_verdicts() -> None:
    both = [pod("master", 0), pod("worker", 0)]
    assert observe(JobObjects("pytorchjob", job(), None, both), SPEC, "", none).status == "RUNNING"
    one = observe(JobObjects("pytorchjob", job(), None, both[:1]), SPEC, "", none)
    assert (one.status, one.reason) == ("STARTING", "1 of 2 pods running")
    done = job(("Succeeded", "True"))
    assert observe(JobObjects("pytorchjob", done, None, both), SPEC, "", none).status == (
        "SUCCEEDED"
    )


@pytest.mark.parametrize(
    ("failed_pod", "results", "reason"),
    [
        (
            pod(
                "worker",
                0,
                "Failed",
                containerStatuses=[
                    {"state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}
                ],
            ),
            {0: {"ok": False, "reason": "RuntimeError: connection reset [rank 0]"}},
            "stopped: memory limit (512 MiB per process) exceeded by rank 1",
        ),
        (
            pod("worker", 0, "Failed", reason="Evicted", message="The node was low on memory."),
            {},
            "rank 1 evicted: The node was low on memory.",
        ),
        (
            pod(
                "worker",
                0,
                "Failed",
                containerStatuses=[{"state": {"terminated": {"reason": "Error", "exitCode": 1}}}],
            ),
            {
                1: {
                    "ok": False,
                    "reason": "cell 2 ('1/0') raised ZeroDivisionError: division by zero [rank 1]",
                }
            },
            "cell 2 ('1/0') raised ZeroDivisionError: division by zero [rank 1]",
        ),
        (
            pod(
                "worker",
                0,
                "Failed",
                containerStatuses=[{"state": {"terminated": {"reason": "Error", "exitCode": 3}}}],
            ),
            {},
            "rank 1 exited with code 3 without a report",
        ),
    ],
)
def test_a_failed_job_says_why_naming_the_rank(
    failed_pod: dict[str, Any], results: dict[int, dict[str, Any]], reason: str
) -> None:
    objects = JobObjects(
        "pytorchjob", job(("Failed", "True")), None, [pod("master", 0), failed_pod]
    )
    seen = observe(objects, SPEC, "", lambda: results)
    assert (seen.status, seen.reason) == ("FAILED", reason)


def test_a_deadline_is_the_jobs_timeout_and_a_vanished_job_is_failed() -> None:
    late = job(("Failed", "True"), reason="DeadlineExceeded")
    seen = observe(JobObjects("pytorchjob", late, None, []), SPEC, "", none)
    assert (seen.status, seen.reason) == ("FAILED", "timed out after 60 s")
    gone = observe(JobObjects("pytorchjob", None, None, []), SPEC, "", none)
    assert (gone.status, gone.reason) == ("FAILED", "its Kubernetes job was deleted outside labrig")


def test_trainjob_pods_are_told_apart_by_their_completion_index() -> None:
    def node(index: int, phase: str) -> dict[str, Any]:
        return {
            "metadata": {"labels": {"batch.kubernetes.io/job-completion-index": str(index)}},
            "spec": {"containers": [{"name": "node", "image": "i"}]},
            "status": {"phase": phase, "reason": "Evicted" if phase == "Failed" else None},
        }

    train = {
        "metadata": {"name": "t"},
        "spec": {"suspend": False},
        "status": {
            "conditions": [{"type": "Failed", "status": "True", "message": "jobset failed"}]
        },
    }
    objects = JobObjects("trainjob", train, None, [node(0, "Running"), node(1, "Failed")])
    seen = observe(objects, {"nodes": 2, "procs_per_node": 2}, "", none)
    assert (seen.status, seen.reason) == ("FAILED", "ranks 2-3 evicted: by the node")
    complete = {**train, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert observe(JobObjects("trainjob", complete, None, []), {}, "", none).status == "SUCCEEDED"
