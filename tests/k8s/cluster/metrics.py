"""metrics-server for the fake cluster: every ``interval`` seconds, each running pod's containers'
CPU (cores used since the previous sample) and resident memory (the process tree's) as a
``metrics.k8s.io/v1beta1`` PodMetrics, when the emulator serves that API."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterable
from typing import Any

import psutil

from .. import kube
from ..store import POD_METRICS, ApiError, Store
from .pod_runs import PodRun
from .processes import rss


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) a process and its descendants used so far."""
    try:
        parent = psutil.Process(proc.pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


class MetricsServer:
    def __init__(self, store: Store, interval: float = 0.5) -> None:
        self.store = store
        self.interval = interval
        self._due = 0.0
        self._last: dict[tuple[str, str, str], tuple[float, float]] = {}

    def sync(self, runs: Iterable[PodRun]) -> None:
        if POD_METRICS.key not in self.store.types or time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self.interval
        live = set()
        for run in runs:
            containers = [self._sample(run, c.name, c.proc) for c in run.containers if c.running]
            if containers:
                live.add((run.namespace, run.name))
                self._write(run, [c for c in containers if c is not None])
        for pod in self.store.select(POD_METRICS.key):
            meta = pod["metadata"]
            if (meta["namespace"], meta["name"]) not in live:
                with contextlib.suppress(ApiError):
                    self.store.delete(POD_METRICS.key, meta["namespace"], meta["name"])

    def _sample(self, run: PodRun, name: str, proc: Any) -> dict[str, Any] | None:
        if proc is None:
            return None
        now, used = time.monotonic(), cpu_seconds(proc)
        key = (run.namespace, run.name, name)
        before = self._last.get(key)
        self._last[key] = (now, used)
        cores = (used - before[1]) / (now - before[0]) if before and now > before[0] else 0.0
        return {
            "name": name,
            "usage": {"cpu": f"{max(0, round(cores * 1e9))}n", "memory": f"{rss(proc) // 1024}Ki"},
        }

    def _write(self, run: PodRun, containers: list[dict[str, Any]]) -> None:
        body = {
            "apiVersion": POD_METRICS.api_version(),
            "kind": POD_METRICS.kind,
            "metadata": {"name": run.name, "namespace": run.namespace},
            "timestamp": kube.now_iso(),
            "window": f"{self.interval:g}s",
            "containers": containers,
        }
        try:
            current = self.store.get(POD_METRICS.key, run.namespace, run.name)
        except ApiError:
            self.store.create(POD_METRICS.key, body)
            return
        body["metadata"] = current["metadata"]
        self.store.update(POD_METRICS.key, body)
