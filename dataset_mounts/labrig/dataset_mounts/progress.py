"""The progress of one warm-up: counters its fetch threads update under a lock, the cancel event,
and the JSON (percent, throughput, ETA) the panel, REST and the CLI show."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class WarmUp:
    """Progress of one warm-up; ``as_json`` is what the REST API and the CLI show."""

    id: str
    dataset: str
    version: str | None = None
    state: str = "listing"  # listing, running, succeeded, failed, cancelled
    files_total: int = 0
    files_done: int = 0
    files_cached: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    bytes_fetched: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        return self.state in ("listing", "running")

    def add_bytes(self, n: int, fetched: bool = True) -> None:
        with self.lock:
            self.bytes_done += n
            if fetched:
                self.bytes_fetched += n

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            out = {
                f.name: getattr(self, f.name)
                for f in fields(self)
                if f.name not in ("cancel", "lock", "started_at")
            }
        end = self.finished_at or time.time()
        elapsed = max(end - self.started_at, 1e-6)
        throughput = self.bytes_fetched / elapsed
        remaining = max(self.bytes_total - self.bytes_done, 0)
        out["elapsed_seconds"] = round(elapsed, 3)
        out["throughput_bytes_per_second"] = round(throughput, 1)
        out["eta_seconds"] = (
            round(remaining / throughput, 1) if self.running and throughput > 0 else None
        )
        out["started_at"] = self.started_at
        out["percent"] = (
            round(100.0 * self.bytes_done / self.bytes_total, 1) if self.bytes_total else 0.0
        )
        return out


def progress_text(p: dict[str, Any], human: Callable[[float], str]) -> str:
    """``12/40 files 3.1 MiB/10 MiB 2.3 MiB/s`` for the CLI and the Python API; what the cache
    cannot report (files, or bytes, of a cluster cache: None) is said, not shown as 0."""
    files = (
        f"{p['files_done']}/{p['files_total']} files"
        if p["files_done"] is not None
        else f"{p['files_total']} files (count not reported)"
    )
    if p["bytes_done"] is None:
        return f"{files} {human(p['bytes_total'])} (size cached not reported)"
    rate = p["throughput_bytes_per_second"] or 0
    return f"{files} {human(p['bytes_done'])}/{human(p['bytes_total'])} {human(rate)}/s"
