"""What a kernel's pod uses, measured inside the pod and served to the Jupyter server.

    python -m labrig.kernels.pod_usage [--port 9469] [--cgroup-root /sys/fs/cgroup]

The kernel pod's entry point (``labrig.kernels.pod_launch``) starts this beside the kernel, as
its own process: a kernel busy in a C call that holds the GIL still gets its usage reported.
The server reads ``GET /usage`` through the API server's pod proxy
(``/api/v1/namespaces/NS/pods/NAME:PORT/proxy/usage``), so nothing but the API server needs to
reach the pod. The answer:

- CPU and memory from the container's cgroup, which the runtime mounts at ``/sys/fs/cgroup``:
  v2 ``cpu.stat`` (``usage_usec``) and ``memory.current``, or v1 ``cpuacct.usage`` and
  ``memory.usage_in_bytes``. Memory is the working set (usage less inactive file cache), as
  the kubelet and the metrics API count it. CPU is cores used since the previous answer (or
  since the reporter started).
- GPUs from NVML (``nvidia-ml-py``'s ``pynvml``): the devices the container sees, with
  utilisation and memory. Without NVML the answer says why instead of listing none silently.
- scratch disk: the bytes allocated under ``LABRIG_SCRATCH`` (the pod's emptyDir), counted as
  the local panel counts the scratch directory.

Figures that cannot be read are ``null`` with a reason, never zeros.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_PORT = 9469
DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup"
PORT_ENV = "LABRIG_USAGE_PORT"
CGROUP_ROOT_ENV = "LABRIG_CGROUP_ROOT"
SCRATCH_ENV = "LABRIG_SCRATCH"


class CgroupUnreadable(Exception):
    """The container's cgroup files are not where a container runtime puts them."""


@dataclass(frozen=True)
class CgroupReading:
    version: str
    #: Working set: usage less inactive file cache (what the kubelet evicts and OOM-kills on).
    memory: int
    #: CPU seconds the container used since it started.
    cpu_seconds: float


def _read_int(path: Path) -> int:
    return int(path.read_text().split()[0])


def _stat(path: Path) -> dict[str, int]:
    """A ``key value`` per line file (``memory.stat``, ``cpu.stat``)."""
    values: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def read_cgroup(root: Path) -> CgroupReading:
    """The container's cgroup under ``root``: v2 when ``cgroup.controllers`` is there, else v1's
    ``memory`` and ``cpuacct`` hierarchies."""
    try:
        if (root / "cgroup.controllers").exists():
            memory = _read_int(root / "memory.current")
            inactive = _stat(root / "memory.stat").get("inactive_file", 0)
            cpu = _stat(root / "cpu.stat")["usage_usec"] / 1e6
            return CgroupReading("v2", max(0, memory - inactive), cpu)
        memory = _read_int(root / "memory" / "memory.usage_in_bytes")
        inactive = _stat(root / "memory" / "memory.stat").get("total_inactive_file", 0)
        cpu = _read_int(root / "cpuacct" / "cpuacct.usage") / 1e9
        return CgroupReading("v1", max(0, memory - inactive), cpu)
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise CgroupUnreadable(f"no readable cgroup v1 or v2 files under {root}: {err}") from err


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load_nvml() -> tuple[Any | None, str | None]:
    """``pynvml``, initialised, or None and why not."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        return None, "NVML is not available in the kernel image (nvidia-ml-py is not installed)"
    try:
        nvml.nvmlInit()
    except Exception as err:  # noqa: BLE001 - NVMLError and friends: every failure means "no NVML"
        return None, f"NVML does not start in the pod ({err}): no NVIDIA driver visible"
    return nvml, None


def read_gpus(nvml: Any) -> list[dict[str, Any]]:
    """Every GPU NVML shows the container (only those it was given), with what it uses."""
    gpus = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        gpus.append(
            {
                "uuid": _text(nvml.nvmlDeviceGetUUID(handle)),
                "model": _text(nvml.nvmlDeviceGetName(handle)),
                "memory_total": int(memory.total),
                "utilization": int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                "memory_used": int(memory.used),
            }
        )
    return gpus


def allocated_bytes(directory: Path) -> int:
    """Bytes the files under ``directory`` take on disk (0 when it does not exist yet)."""
    total = 0
    for dirpath, _dirs, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


class Reporter:
    """One answer per call; CPU is the rate since the previous call."""

    def __init__(
        self,
        cgroup_root: Path,
        nvml_loader: Callable[[], tuple[Any | None, str | None]] = load_nvml,
        clock: Callable[[], float] = time.monotonic,
        scratch: Path | None = None,
    ) -> None:
        self.cgroup_root = cgroup_root
        self.scratch = scratch
        self.clock = clock
        self.nvml, self.gpu_reason = nvml_loader()
        self._lock = threading.Lock()
        self._previous: tuple[float, float] | None = None
        self._mark_cpu()

    def _mark_cpu(self) -> None:
        try:
            self._previous = (self.clock(), read_cgroup(self.cgroup_root).cpu_seconds)
        except CgroupUnreadable:
            self._previous = None

    def _cgroup(self) -> dict[str, Any]:
        try:
            reading = read_cgroup(self.cgroup_root)
        except CgroupUnreadable as err:
            return {"cgroup": None, "cpu": None, "memory": None, "reason": str(err)}
        now = self.clock()
        with self._lock:
            before, self._previous = self._previous, (now, reading.cpu_seconds)
        cores = None
        if before is not None and now > before[0]:
            cores = max(0.0, (reading.cpu_seconds - before[1]) / (now - before[0]))
        return {"cgroup": reading.version, "cpu": cores, "memory": reading.memory, "reason": None}

    def _gpus(self) -> dict[str, Any]:
        if self.nvml is None:
            return {"gpus": None, "gpu_reason": self.gpu_reason}
        try:
            return {"gpus": read_gpus(self.nvml), "gpu_reason": None}
        except Exception as err:  # noqa: BLE001 - NVMLError: the reason goes to the panel
            return {"gpus": None, "gpu_reason": f"NVML failed to read the GPUs: {err}"}

    def sample(self) -> dict[str, Any]:
        return {
            "sampled_at": datetime.now(UTC).isoformat(),
            **self._cgroup(),
            **self._gpus(),
            "scratch": None if self.scratch is None else allocated_bytes(self.scratch),
        }


def make_server(reporter: Reporter, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """``GET /usage`` on every address of the pod (the API server's proxy dials the pod's IP)."""

    class UsageHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0].rstrip("/") != "/usage":
                self._send(404, {"message": f"no such path {self.path}; GET /usage"})
                return
            self._send(200, reporter.sample())

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per poll would drown the kernel's log

    server = ThreadingHTTPServer((host, port), UsageHandler)
    server.daemon_threads = True
    return server


def _exit_with_parent(parent: int) -> None:
    """The reporter goes when the launcher does (a container's processes go with PID 1 anyway;
    this covers a launcher that is not PID 1)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="labrig.kernels.pod_usage")
    parser.add_argument("--port", type=int, default=int(os.environ.get(PORT_ENV, DEFAULT_PORT)))
    parser.add_argument(
        "--cgroup-root", default=os.environ.get(CGROUP_ROOT_ENV, DEFAULT_CGROUP_ROOT)
    )
    args = parser.parse_args(argv)
    scratch = os.environ.get(SCRATCH_ENV)
    reporter = Reporter(Path(args.cgroup_root), scratch=Path(scratch) if scratch else None)
    server = make_server(reporter, args.port)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
