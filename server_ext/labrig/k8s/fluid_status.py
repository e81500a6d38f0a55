"""What Fluid's objects say, as labrig shows it: bytes cached (``status.cacheStates``, which
Fluid writes rounded, e.g. ``1.20GiB``), a DataLoad's phase, why a PVC or runtime is not ready,
and the progress of a warm-up a DataLoad runs."""

from __future__ import annotations

import re
from typing import Any

from labrig.dataset_mounts.cluster import ClusterWarmUp

_UNITS = {"": 1, "B": 1, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "PIB": 2**50}
_UNITS.update({"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "KB": 10**3, "MB": 10**6})
_UNITS.update({"GB": 10**9, "TB": 10**12})
_UNITS.update({"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40})  # Kubernetes quantities
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*")

LOADING_NOTE = "Fluid reports the bytes cached (rounded), not files: files are shown when done"


def parse_size(text: Any) -> int | None:
    """``1.20GiB`` -> bytes; None for anything Fluid did not fill in."""
    match = _SIZE.fullmatch(str(text or ""))
    if not match or match.group(2).upper() not in _UNITS:
        return None
    return round(float(match.group(1)) * _UNITS[match.group(2).upper()])


def dataset_cached(dataset: dict[str, Any]) -> int | None:
    """Bytes of a Dataset in its runtime's cache, as Fluid reports them."""
    states = (dataset.get("status") or {}).get("cacheStates") or {}
    return parse_size(states.get("cached"))


def dataload_state(load: dict[str, Any]) -> tuple[str, str]:
    """(phase, message of its last condition) of a DataLoad; Pending until Fluid says."""
    status = load.get("status") or {}
    conditions = status.get("conditions") or []
    message = str((conditions[-1] or {}).get("message") or "") if conditions else ""
    return str(status.get("phase") or "Pending"), message


def not_bound_reason(pvc: dict[str, Any] | None, claim: str, namespace: str) -> str | None:
    """Why pods cannot mount ``claim`` yet; None when it is bound."""
    if pvc is None:
        return f"PVC {claim} does not exist in namespace {namespace}"
    phase = (pvc.get("status") or {}).get("phase") or "Pending"
    if phase == "Bound":
        return None
    return (
        f"PVC {claim} in namespace {namespace} is {phase}, not bound (no PersistentVolume "
        "matches it, or its StorageClass provisions none)"
    )


def runtime_not_ready_reason(runtime: dict[str, Any]) -> str:
    """The runtime's master/worker/fuse phases and reasons, or that nothing reported."""
    status = runtime.get("status") or {}
    parts = []
    for role in ("master", "worker", "fuse"):
        phase = status.get(f"{role}Phase")
        if phase:
            reason = status.get(f"{role}Reason")
            parts.append(f"{role} {phase}" + (f": {reason}" if reason else ""))
    return ", ".join(parts) or "its status is empty: is Fluid's controller running?"


class FluidProgress:
    """Turns the Dataset's cached bytes into a warm-up's progress."""

    def __init__(self, warm: ClusterWarmUp) -> None:
        self.warm = warm
        self.before = 0

    def start(self, cached: int | None) -> None:
        self.before = min(cached or 0, self.warm.bytes_total)
        self.warm.note = LOADING_NOTE

    def update(self, cached: int | None, phase: str) -> None:
        warm = self.warm
        with warm.lock:
            if phase == "Complete":
                warm.bytes_done = warm.bytes_total
                warm.files_done = warm.files_total
                warm.files_known = True
                warm.note = None
            elif cached is not None:
                warm.bytes_done = min(cached, warm.bytes_total)
            warm.bytes_fetched = max(warm.bytes_done - self.before, 0)
