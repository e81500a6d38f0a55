"""Which source measures a pod, and what the usage says when one is missing: pods that run only
the usage reporter (no kernel), through the API emulator and the fake kubelet."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from k8s.cluster import FakeCluster
from k8s.emulator import ApiEmulator
from kernels_kit import kubernetes_backend

from labrig.k8s import kernel_pods
from labrig.k8s.kernel_usage import PodUsage, measure

pytestmark = pytest.mark.slow

Cluster = tuple[ApiEmulator, FakeCluster]
PORT = kernel_pods.DEFAULT_USAGE_PORT
#: A container that runs and listens on nothing.
IDLE = [sys.executable, "-c", "import time; time.sleep(600)"]


def reporter_pod(name: str, command: list[str], env: dict[str, str]) -> dict[str, Any]:
    container = {
        "name": "kernel",
        "image": "registry.example.com/ml/labrig-kernel:test",
        "command": command,
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"name": "usage", "containerPort": PORT, "protocol": "TCP"}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"restartPolicy": "Never", "containers": [container]},
    }


def run_pod(emu: ApiEmulator, pod: dict[str, Any]) -> None:
    emu.store.create("pods", pod)
    deadline = time.monotonic() + 30
    while emu.store.get("pods", "ml", pod["metadata"]["name"])["status"].get("phase") != "Running":
        assert time.monotonic() < deadline, "the pod did not start"
        time.sleep(0.05)


def measured_until(
    emulated: Cluster, tmp_path: Path, name: str, port: int, wanted: str
) -> PodUsage:
    """Measure until ``wanted`` is in the source (the reporter and metrics-server start up)."""
    backend = kubernetes_backend(emulated[0], tmp_path)
    deadline = time.monotonic() + 30
    while True:
        usage = measure(backend.kube, name, port)
        if wanted in usage.source and usage.memory is not None:
            return usage
        assert time.monotonic() < deadline, usage
        time.sleep(0.2)


def test_an_unreadable_cgroup_falls_back_to_the_metrics_api_for_cpu_and_memory(
    emulated_cluster: Cluster, tmp_path: Path
) -> None:
    emu, _ = emulated_cluster
    nvml = tmp_path / "nvml"
    nvml.mkdir()
    (nvml / "pynvml.py").write_text(
        textwrap.dedent("""
            from types import SimpleNamespace
            def nvmlInit(): pass
            def nvmlDeviceGetCount(): return 0
        """)
    )
    env = {
        "LABRIG_USAGE_PORT": str(PORT),
        "LABRIG_CGROUP_ROOT": str(tmp_path / "no-cgroup"),
        "PYTHONPATH": os.pathsep.join([str(nvml), os.environ.get("PYTHONPATH", "")]),
    }
    run_pod(emu, reporter_pod("odd", [sys.executable, "-m", "labrig.kernels.pod_usage"], env))
    usage = measured_until(emulated_cluster, tmp_path, "odd", PORT, "metrics API")
    assert usage.source.startswith("usage from the metrics API (metrics.k8s.io)")
    assert "no readable cgroup v1 or v2 files under" in usage.source
    # GPUs still come from inside the pod: NVML answered, and the pod was given none.
    assert (usage.gpus, usage.gpu_source) == ([], "GPU usage from NVML inside the pod")


def test_a_pod_whose_reporter_does_not_listen(emulated_cluster: Cluster, tmp_path: Path) -> None:
    emu, _ = emulated_cluster
    run_pod(emu, reporter_pod("mute", IDLE, {}))
    usage = measured_until(emulated_cluster, tmp_path, "mute", PORT, "metrics API")
    assert "the in-pod reporter did not answer" in usage.source
    assert "error trying to reach service: dial tcp 127.0.0.1:9469" in usage.source
    assert usage.gpus == []
    assert usage.gpu_source.startswith("GPU usage not reported: the in-pod reporter did not")


def test_without_a_usage_port_only_the_metrics_api_is_asked(
    emulated_cluster: Cluster, tmp_path: Path
) -> None:
    emu, _ = emulated_cluster
    run_pod(emu, reporter_pod("plain", IDLE, {}))
    emu.clear_requests()
    usage = measured_until(emulated_cluster, tmp_path, "plain", 0, "metrics API")
    assert "KubernetesKernelBackend.usage_port is 0" in usage.source
    assert emu.count(resource="pods/proxy") == 0
