"""What a job needs from the host's resource ledger, and a small ledger of the host's own.

The resources section owns the real ledger shared with interactive kernels
(``services.resources``); the job service takes any object with ``acquire``/``release`` (the
``Ledger`` protocol below). ``HostCapacity`` is the one used until the two are wired together:
it accounts CPUs, memory and an inventory of GPUs in a JSON file under the data dir, guarded by
a file lock, so the server, the CLI and detached supervisors agree.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil
from filelock import FileLock

from ..errors import CapacityExceeded


class Ledger(Protocol):
    def acquire(
        self, holder: str, cpus: float | None, memory: int | None, gpus: int, gpu_type: str | None
    ) -> list[str]:
        """Reserve resources for ``holder``; the GPU UUIDs granted; CapacityExceeded if not free."""

    def release(self, holder: str) -> None:
        """Give back everything ``holder`` holds (a no-op when it holds nothing)."""


@dataclass(frozen=True)
class Gpu:
    uuid: str
    type: str


@dataclass(frozen=True)
class HostTotals:
    cpus: float
    memory: int
    gpus: tuple[Gpu, ...]

    def json(self) -> dict[str, Any]:
        return {
            "cpus": self.cpus,
            "memory": self.memory,
            "gpus": len(self.gpus),
            "gpu_types": sorted({gpu.type for gpu in self.gpus}),
        }


def detect_gpus() -> tuple[Gpu, ...]:
    """The host's NVIDIA GPUs from ``nvidia-smi`` (none when it is not installed)."""
    if shutil.which("nvidia-smi") is None:
        return ()
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=uuid,name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    gpus = []
    for line in out.splitlines():
        uuid, _, name = line.partition(",")
        if uuid.strip():
            gpus.append(Gpu(uuid.strip(), name.strip()))
    return tuple(gpus)


class HostCapacity:
    """CPUs, memory and GPUs of this host, reserved per holder in ``<state_dir>/ledger.json``."""

    def __init__(
        self,
        state_dir: Path,
        *,
        cpus: float | None = None,
        memory: int | None = None,
        gpus: tuple[Gpu, ...] | list[Gpu] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / "ledger.json"
        self.lock = FileLock(str(self.state_dir / "ledger.lock"))
        self._given = (cpus, memory, gpus)

    @functools.cached_property
    def totals(self) -> HostTotals:
        """The host's CPUs, memory and GPUs, probed (nvidia-smi) when first needed: reading
        jobs never needs them."""
        cpus, memory, gpus = self._given
        return HostTotals(
            cpus=float(cpus if cpus is not None else (os.cpu_count() or 1)),
            memory=int(memory if memory is not None else psutil.virtual_memory().total),
            gpus=tuple(gpus) if gpus is not None else detect_gpus(),
        )

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            value: dict[str, dict[str, Any]] = json.loads(self.path.read_text())
            return value
        except (OSError, ValueError):
            return {}

    def _write(self, holders: dict[str, dict[str, Any]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(holders))
        tmp.replace(self.path)

    def holders(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self._read()

    def acquire(
        self, holder: str, cpus: float | None, memory: int | None, gpus: int, gpu_type: str | None
    ) -> list[str]:
        with self.lock:
            holders = self._read()
            holders.pop(holder, None)
            used_cpus = sum(h.get("cpus") or 0 for h in holders.values())
            used_memory = sum(h.get("memory") or 0 for h in holders.values())
            busy = {uuid: name for name, h in holders.items() for uuid in h.get("gpus", [])}
            if cpus and used_cpus + cpus > self.totals.cpus + 1e-9:
                raise CapacityExceeded(
                    f"{holder} needs {cpus:g} CPUs; {self.totals.cpus - used_cpus:g} of "
                    f"{self.totals.cpus:g} are free",
                    field="cpus",
                    free=self.totals.cpus - used_cpus,
                    total=self.totals.cpus,
                    holders=sorted(name for name, h in holders.items() if h.get("cpus")),
                )
            if memory and used_memory + memory > self.totals.memory:
                raise CapacityExceeded(
                    f"{holder} needs {memory} bytes of memory; "
                    f"{self.totals.memory - used_memory} are free",
                    field="memory",
                    free=self.totals.memory - used_memory,
                    total=self.totals.memory,
                    holders=sorted(name for name, h in holders.items() if h.get("memory")),
                )
            fitting = [g for g in self.totals.gpus if gpu_type in (None, "", g.type)]
            free = [g.uuid for g in fitting if g.uuid not in busy]
            if gpus > len(free):
                holders_of_busy = sorted({busy[g.uuid] for g in fitting if g.uuid in busy})
                raise CapacityExceeded(
                    f"{holder} needs {gpus} GPU(s){f' of type {gpu_type}' if gpu_type else ''}; "
                    f"{len(free)} free"
                    + (
                        f", the others held by {', '.join(holders_of_busy)}"
                        if holders_of_busy
                        else ""
                    ),
                    field="gpus",
                    free=len(free),
                    total=len(fitting),
                    holders=holders_of_busy,
                )
            granted = free[:gpus]
            holders[holder] = {"cpus": cpus, "memory": memory, "gpus": granted}
            self._write(holders)
            return granted

    def release(self, holder: str) -> None:
        with self.lock:
            holders = self._read()
            if holders.pop(holder, None) is not None:
                self._write(holders)


class GpuLedger(Ledger, Protocol):
    def attach(self, holder: str, pid: int, enforcement: dict[str, Any] | None = None) -> None:
        """Tie ``holder``'s grant to the life of process ``pid``."""

    def holders(self) -> list[dict[str, Any]]:
        """Every holder: ``{"holder", "notebook_path", "gpus", ...}``."""


class SharedLedger:
    """Jobs' CPUs and memory from the host ledger; GPUs from the ledger interactive kernels use.

    GPUs must come from ``services.resources`` so that a job and a kernel never share one; the
    grant is tied to the job's detached supervisor, so a server restart does not free it.
    """

    def __init__(self, host: HostCapacity, gpus: GpuLedger) -> None:
        self.host = host
        self.gpus = gpus

    def acquire(
        self, holder: str, cpus: float | None, memory: int | None, gpus: int, gpu_type: str | None
    ) -> list[str]:
        self.host.acquire(holder, cpus, memory, 0, None)
        try:
            return self.gpus.acquire(holder, None, None, gpus, gpu_type)
        except BaseException:
            self.host.release(holder)
            raise

    def attach(self, holder: str, pid: int) -> None:
        self.gpus.attach(holder, pid)

    def release(self, holder: str) -> None:
        self.gpus.release(holder)
        self.host.release(holder)
