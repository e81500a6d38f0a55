"""Fixtures: an API emulator, a real ``kubernetes`` client configured from its kubeconfig,
and a fake cluster. Other test folders can import the same pieces from ``k8s.*``."""

from __future__ import annotations

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


@pytest.fixture
def cluster(emu: ApiEmulator, tmp_path: Path) -> Iterator[FakeCluster]:
    fake = FakeCluster(
        emu,
        tmp_path / "cluster",
        nodes=[Node("node-1", cpu="4", memory="16Gi")],
        poll=0.05,
    )
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
