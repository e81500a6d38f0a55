"""Live usage of a notebook's kernels: CPU, resident memory, GPUs and scratch disk."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from typing import Any

import psutil

from .gpus import nvml_usage
from .quantity import format_bytes
from .service import ResourceService

_lock = threading.Lock()
#: psutil needs the same Process object across calls to measure CPU % between them.
_processes: dict[int, psutil.Process] = {}


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = _processes.get(pid) or psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    with _lock:
        kept = []
        for process in tree:
            cached = _processes.setdefault(process.pid, process)
            kept.append(cached)
        return kept


def _sample(pid: int) -> tuple[float, int] | None:
    """(cores in use since the last sample, resident bytes) of a process tree."""
    processes = _tree(pid)
    if not processes:
        return None
    cores = 0.0
    rss = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            cores += process.cpu_percent(interval=None) / 100
            rss += process.memory_info().rss
    return cores, rss


def _forget_dead() -> None:
    with _lock:
        for pid, process in list(_processes.items()):
            if not process.is_running():
                del _processes[pid]


def _percent(used: float | None, limit: float | None) -> float | None:
    if used is None or not limit:
        return None
    return round(100 * used / limit, 1)


def usage(service: ResourceService, notebook_path: str) -> dict[str, Any]:
    """One sample of what the notebook's kernels use, against their limits."""
    shown = service.show(notebook_path)
    path = shown["notebook_path"]
    request = shown["request"] or {}
    allocations = shown["allocations"]
    labels = shown["enforcement"]
    cores: float | None = None
    rss: int | None = None
    cpu_limit = memory_limit = None
    uuids: list[str] = []
    models: dict[str, dict[str, Any]] = {}
    for allocation in allocations:
        cpu_limit = allocation["cpus"]
        memory_limit = allocation["memory"]
        for gpu in allocation["gpus"]:
            uuids.append(gpu["uuid"])
            models[gpu["uuid"]] = gpu
        if allocation["pid"]:
            sample = _sample(allocation["pid"])
            if sample is not None:
                cores = (cores or 0.0) + sample[0]
                rss = (rss or 0) + sample[1]
    if not allocations:
        cpu_limit, memory_limit = request.get("cpus"), request.get("memory")
    _forget_dead()
    gpu_live = nvml_usage(uuids)
    quota = request.get("disk")
    used = service.checked_scratch_used(path)  # as ``show`` checked it
    over = quota is not None and used > quota
    return {
        "notebook_path": path,
        "running": bool(allocations),
        "kernels": [a["holder"] for a in allocations],
        "sampled_at": datetime.now(UTC).isoformat(),
        "cpu": {
            "limit": cpu_limit,
            "used": None if cores is None else round(cores, 2),
            "percent": _percent(cores, cpu_limit),
            **labels["cpu"],
        },
        "memory": {
            "limit": memory_limit,
            "used": rss,
            "percent": _percent(rss, memory_limit),
            **labels["memory"],
        },
        "gpus": [
            {
                "uuid": uuid,
                "model": models[uuid].get("model"),
                "memory_total": models[uuid].get("memory"),
                **gpu_live[uuid],
            }
            for uuid in uuids
        ],
        "gpu": {"requested": request.get("gpus", 0), **labels["gpu"]},
        "disk": {
            "limit": quota,
            "used": used,
            "percent": _percent(used, quota),
            "over_quota": over,
            "warning": (
                f"scratch disk uses {format_bytes(used)}, over the quota of "
                f"{format_bytes(quota)}: new jobs from this notebook are refused"
                if over and quota is not None
                else None
            ),
            **labels["disk"],
        },
        "last_stop": shown["last_stop"],
    }
