"""What a kernel's pod says, as the one line the panel shows (pure functions over pod JSON)."""

from __future__ import annotations

from typing import Any

import pytest

from labrig.k8s.kernel_status import pending_reason, stop_reason

IMAGE = "registry.example.com/ml/labrig-kernel:0.1"


def pod(
    phase: str = "Pending",
    node: str | None = "node-1",
    conditions: list[dict[str, Any]] | None = None,
    state: dict[str, Any] | None = None,
    **status: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "kernel", "image": IMAGE}]}
    if node:
        spec["nodeName"] = node
    body: dict[str, Any] = {"phase": phase, "conditions": conditions or [], **status}
    if state is not None:
        body["containerStatuses"] = [{"name": "kernel", "state": state}]
    return {"spec": spec, "status": body}


def event(reason: str) -> dict[str, Any]:
    return {"reason": reason, "message": f"{reason} {IMAGE}"}


UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
}


@pytest.mark.parametrize(
    ("the_pod", "events", "reason"),
    [
        (
            pod(node=None, conditions=[UNSCHEDULABLE]),
            [],
            "waiting for a node: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
        ),
        (pod(node=None), [], "waiting for the scheduler to place the kernel's pod"),
        (
            pod(state={"waiting": {"reason": "ContainerCreating"}}),
            [event("Scheduled"), event("Pulling")],
            f"image {IMAGE} is being pulled",
        ),
        (
            pod(state={"waiting": {"reason": "ContainerCreating"}}),
            [event("Pulling"), event("Pulled")],
            "the kernel's container is being created",
        ),
        (
            pod(state={"waiting": {"reason": "ImagePullBackOff", "message": "Back-off"}}),
            [event("Pulling"), event("BackOff")],
            f"image {IMAGE} cannot be started (ImagePullBackOff): Back-off",
        ),
        (pod("Running", state={"running": {}}), [], "the kernel is starting in its pod"),
    ],
    ids=["no-node", "unscheduled", "pulling", "creating", "backoff", "starting"],
)
def test_pending_reason(the_pod: dict[str, Any], events: list[dict[str, Any]], reason: str) -> None:
    assert pending_reason(the_pod, events) == reason


@pytest.mark.parametrize(
    ("the_pod", "reason"),
    [
        (pod("Running", state={"running": {}}), None),
        (
            pod("Failed", reason="Evicted", message="The node was low on resource: memory."),
            "kernel stopped: its pod was evicted (The node was low on resource: memory.)",
        ),
        (
            pod("Failed", state={"terminated": {"reason": "OOMKilled", "exitCode": 137}}),
            "kernel stopped: memory limit 2 GiB reached (its pod was OOM-killed)",
        ),
        (
            pod("Failed", state={"terminated": {"reason": "Error", "exitCode": 3}}),
            "kernel stopped: its pod's container exited with code 3",
        ),
        (pod("Succeeded", state={"terminated": {"exitCode": 0}}), "kernel stopped: its pod ended"),
    ],
    ids=["running", "evicted", "oom", "exit-code", "ended"],
)
def test_stop_reason(the_pod: dict[str, Any], reason: str | None) -> None:
    assert stop_reason(the_pod, 2 * 2**30) == reason
