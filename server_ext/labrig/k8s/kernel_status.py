"""What a kernel's pod says, as one line for the panel (pure functions over the pod and its events).

While the pod waits: the scheduler's message ("waiting for a node: 0/3 nodes are available: 3
Insufficient nvidia.com/gpu"), an image being pulled or that cannot be pulled (named), the
container being created. Once it ended: an eviction, the memory limit, an exit code.
"""

from __future__ import annotations

from typing import Any

from ..resources.quantity import format_bytes
from .status import WAITING_FAILURES


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def _image(pod: dict[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return str(containers[0].get("image", ""))


def _pulling(events: list[dict[str, Any]]) -> bool:
    """The kubelet started pulling the image and has not finished (newest event last)."""
    state = False
    for event in events:
        reason = event.get("reason")
        if reason == "Pulling":
            state = True
        elif reason in ("Pulled", "Failed", "BackOff"):
            state = False
    return state


def pending_reason(pod: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """Why the kernel's pod is not running its kernel yet, in one line."""
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    scheduled = conditions.get("PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        message = scheduled.get("message") or scheduled.get("reason") or "no node fits"
        return f"waiting for a node: {message}"
    if not (pod.get("spec") or {}).get("nodeName"):
        return "waiting for the scheduler to place the kernel's pod"
    for container in _containers(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in WAITING_FAILURES:
            detail = waiting.get("message") or reason
            return f"image {_image(pod)} cannot be started ({reason}): {detail}"
    if _pulling(events):
        return f"image {_image(pod)} is being pulled"
    if status.get("phase") == "Running":
        return "the kernel is starting in its pod"
    return "the kernel's container is being created"


def stop_reason(pod: dict[str, Any], memory: int | None) -> str | None:
    """Why the kernel's pod ended, or None while it runs."""
    status = pod.get("status") or {}
    if status.get("phase") not in ("Failed", "Succeeded"):
        return None
    if status.get("reason") == "Evicted":
        return f"kernel stopped: its pod was evicted ({status.get('message') or 'by the node'})"
    for container in _containers(pod):
        terminated = (container.get("state") or {}).get("terminated") or {}
        if terminated.get("reason") == "OOMKilled":
            limit = f" {format_bytes(memory)}" if memory else ""
            return f"kernel stopped: memory limit{limit} reached (its pod was OOM-killed)"
        code = terminated.get("exitCode")
        if code:
            return f"kernel stopped: its pod's container exited with code {code}"
    return "kernel stopped: its pod ended"
