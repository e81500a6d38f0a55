"""The in-pod usage reporter over cgroup v1 and v2 file layouts (as a container runtime mounts
them at /sys/fs/cgroup), with NVML present, missing or failing, and over HTTP."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from labrig.kernels.pod_usage import (
    CgroupUnreadable,
    Reporter,
    load_nvml,
    make_server,
    read_cgroup,
)


def cgroup_v2(root: Path, memory: int, inactive: int, usec: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "memory.current").write_text(f"{memory}\n")
    (root / "memory.stat").write_text(f"anon 1000\nfile 5000\ninactive_file {inactive}\n")
    (root / "cpu.stat").write_text(f"usage_usec {usec}\nuser_usec {usec}\nsystem_usec 0\n")
    return root


def cgroup_v1(root: Path, memory: int, inactive: int, nanoseconds: int) -> Path:
    (root / "memory").mkdir(parents=True, exist_ok=True)
    (root / "cpu,cpuacct").mkdir(exist_ok=True)
    (root / "cpuacct").symlink_to("cpu,cpuacct")  # as runc mounts v1 controllers
    (root / "memory" / "memory.usage_in_bytes").write_text(f"{memory}\n")
    (root / "memory" / "memory.stat").write_text(
        f"cache 9\nrss 8\ntotal_inactive_file {inactive}\n"
    )
    (root / "cpuacct" / "cpuacct.usage").write_text(f"{nanoseconds}\n")
    return root


def no_nvml() -> tuple[Any, str]:
    return None, "NVML is not available in the kernel image (nvidia-ml-py is not installed)"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_v2_working_set_and_cpu_seconds(tmp_path: Path) -> None:
    reading = read_cgroup(cgroup_v2(tmp_path, memory=900, inactive=300, usec=2_500_000))
    assert (reading.version, reading.memory, reading.cpu_seconds) == ("v2", 600, 2.5)


def test_v1_working_set_and_cpu_seconds(tmp_path: Path) -> None:
    reading = read_cgroup(cgroup_v1(tmp_path, memory=4096, inactive=1024, nanoseconds=3 * 10**9))
    assert (reading.version, reading.memory, reading.cpu_seconds) == ("v1", 3072, 3.0)


def test_a_missing_cgroup_is_an_error_that_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(CgroupUnreadable) as unreadable:
        read_cgroup(tmp_path)
    assert str(unreadable.value).startswith(f"no readable cgroup v1 or v2 files under {tmp_path}")


def test_cpu_is_the_rate_since_the_previous_sample(tmp_path: Path) -> None:
    root = cgroup_v2(tmp_path, memory=100, inactive=0, usec=1_000_000)
    clock = Clock()
    reporter = Reporter(root, no_nvml, clock)
    clock.now += 2.0
    cgroup_v2(root, memory=100, inactive=0, usec=4_000_000)  # 3 CPU seconds in 2 s
    assert reporter.sample()["cpu"] == 1.5
    clock.now += 1.0
    cgroup_v2(root, memory=100, inactive=0, usec=4_250_000)
    assert reporter.sample()["cpu"] == 0.25


def test_without_a_cgroup_the_figures_are_null_with_the_reason(tmp_path: Path) -> None:
    sample = Reporter(tmp_path / "none", no_nvml).sample()
    assert (sample["cgroup"], sample["cpu"], sample["memory"]) == (None, None, None)
    assert "no readable cgroup" in sample["reason"]


def fake_nvml(*, fails: bool = False) -> Any:
    def utilization(handle: int) -> Any:
        if fails:
            raise RuntimeError("GPU is lost")
        return SimpleNamespace(gpu=[40, 90][handle])

    return SimpleNamespace(
        nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUUID=lambda h: f"GPU-{h}",
        nvmlDeviceGetName=lambda h: b"NVIDIA A100-SXM4-80GB",
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(total=80 * 2**30, used=(h + 1) * 2**30),
        nvmlDeviceGetUtilizationRates=utilization,
    )


def test_gpus_the_pod_sees_through_nvml(tmp_path: Path) -> None:
    sample = Reporter(tmp_path, lambda: (fake_nvml(), None)).sample()
    assert sample["gpu_reason"] is None
    assert sample["gpus"] == [
        {
            "uuid": f"GPU-{i}",
            "model": "NVIDIA A100-SXM4-80GB",
            "memory_total": 80 * 2**30,
            "utilization": [40, 90][i],
            "memory_used": (i + 1) * 2**30,
        }
        for i in range(2)
    ]


def test_an_nvml_failure_is_reported_not_hidden(tmp_path: Path) -> None:
    sample = Reporter(tmp_path, lambda: (fake_nvml(fails=True), None)).sample()
    assert sample["gpus"] is None
    assert sample["gpu_reason"] == "NVML failed to read the GPUs: GPU is lost"


def test_without_nvml_gpus_are_unavailable_with_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # an image without nvidia-ml-py
    assert load_nvml() == (
        None,
        "NVML is not available in the kernel image (nvidia-ml-py is not installed)",
    )
    # nvidia-ml-py installed, but no driver in the pod (a pod without a GPU).
    (tmp_path / "pynvml.py").write_text(
        "def nvmlInit():\n    raise RuntimeError('Driver Not Loaded')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pynvml")
    nvml, reason = load_nvml()
    assert nvml is None
    assert reason == "NVML does not start in the pod (Driver Not Loaded): no NVIDIA driver visible"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    root = cgroup_v2(tmp_path / "cg", memory=5 * 2**20, inactive=2**20, usec=10)
    server = make_server(Reporter(root, no_nvml), 0, host="127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_get_usage_over_http(served: str) -> None:
    with urllib.request.urlopen(f"{served}/usage", timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        body = json.loads(response.read())
    assert (body["cgroup"], body["memory"]) == ("v2", 4 * 2**20)
    assert body["gpus"] is None
    assert body["gpu_reason"].startswith("NVML is not available in the kernel image")
    with pytest.raises(urllib.error.HTTPError) as other:
        urllib.request.urlopen(f"{served}/metrics", timeout=10)
    assert other.value.code == 404


def test_reads_this_hosts_own_cgroup() -> None:
    """The real kernel files, as this process's container sees them (v1 on these machines, v2
    on current distributions): the CPU counter moves with work done here."""
    root = Path("/sys/fs/cgroup")
    try:
        before = read_cgroup(root)
    except CgroupUnreadable as err:
        pytest.skip(f"this host mounts no readable cgroup at {root}: {err}")
    assert before.version in ("v1", "v2")
    assert before.memory > 0
    spent = time.process_time() + 0.2
    while time.process_time() < spent:
        pass  # 0.2 s of this process's CPU, counted in its cgroup
    # (a margin for the two clocks' rounding; others in the group only add to it)
    assert read_cgroup(root).cpu_seconds >= before.cpu_seconds + 0.15


def test_scratch_is_what_its_files_take_on_disk(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    (scratch / "ckpt").mkdir(parents=True)
    (scratch / "ckpt" / "model.pt").write_bytes(b"\1" * 2**20)
    reporter = Reporter(tmp_path / "cg", no_nvml, scratch=scratch)
    assert reporter.sample()["scratch"] >= 2**20
    assert Reporter(tmp_path / "cg", no_nvml).sample()["scratch"] is None
    assert Reporter(tmp_path / "cg", no_nvml, scratch=tmp_path / "none").sample()["scratch"] == 0
