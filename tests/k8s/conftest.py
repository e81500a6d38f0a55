"""Fixtures: an API emulator, a real ``kubernetes`` client configured from its kubeconfig,
and a fake cluster. Other test folders can import the same pieces from ``k8s.*``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from .cluster import FakeCluster, Node
from .emulator import ApiEmulator, api_client_for

__all__ = ["api_client_for"]


@pytest.fixture
def emu() -> Iterator[ApiEmulator]:
    # validate_internal: what the fake controllers write must be valid too.
    emulator = ApiEmulator(namespaces=("default", "ml"), validate_internal=True)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def kubeconfig(emu: ApiEmulator, tmp_path: Path) -> Path:
    return emu.kubeconfig(tmp_path / "kubeconfig", namespace="ml")


@pytest.fixture
def api(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api_client = api_client_for(kubeconfig)
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@contextlib.contextmanager
def _running(emu: ApiEmulator, workdir: Path, node: Node) -> Iterator[FakeCluster]:
    fake = FakeCluster(emu, workdir, nodes=[node], poll=0.05)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def cluster(emu: ApiEmulator, tmp_path: Path) -> Iterator[FakeCluster]:
    with _running(emu, tmp_path / "cluster", Node("node-1", cpu="4", memory="16Gi")) as fake:
        yield fake


@pytest.fixture
def gpu_cluster(emu: ApiEmulator, tmp_path: Path) -> Iterator[FakeCluster]:
    gpu_node = Node("gpu-1", cpu="8", memory="32Gi", gpus={"nvidia.com/gpu": 2})
    with _running(emu, tmp_path / "gpu-cluster", gpu_node) as fake:
        yield fake
