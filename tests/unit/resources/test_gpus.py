"""NVML discovery and usage, through a stand-in for nvidia-ml-py's ``pynvml`` module (the code
path that ran on an H200, see docs/resources-verification.md)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from labrig.resources.gpus import discover_nvml, nvml_usage
from labrig.resources.service import ResourceService
from labrig.store import Database

UUIDS = ["GPU-61095587-706d-a35f-9cc1-a20995101a12", "GPU-70000000-706d-a35f-9cc1-a20995101a12"]


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    module.nvmlInit = lambda: None  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: 2  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByUUID = UUIDS.index  # type: ignore[attr-defined]
    module.nvmlDeviceGetUUID = lambda h: UUIDS[h].encode()  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda h: b"NVIDIA H200"  # type: ignore[attr-defined]
    memory = types.SimpleNamespace(total=150754820096, used=644939776)
    module.nvmlDeviceGetMemoryInfo = lambda h: memory  # type: ignore[attr-defined]
    rates = types.SimpleNamespace(gpu=37)
    module.nvmlDeviceGetUtilizationRates = lambda h: rates  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", module)
    return module


def test_discovery_reports_uuid_model_and_memory(fake_nvml: types.ModuleType) -> None:
    gpus = discover_nvml()
    assert [g.uuid for g in gpus] == UUIDS
    assert {g.model for g in gpus} == {"NVIDIA H200"}
    assert gpus[0].memory == 150754820096
    assert gpus[1].index == 1
    assert nvml_usage([UUIDS[0], "GPU-unknown"]) == {
        UUIDS[0]: {"utilization": 37, "memory_used": 644939776},
        "GPU-unknown": {"utilization": None, "memory_used": None},
    }


def test_a_broken_driver_means_no_gpus(fake_nvml: types.ModuleType) -> None:
    def fail() -> None:
        raise RuntimeError("NVML Shared Library Not Found")

    fake_nvml.nvmlInit = fail  # type: ignore[attr-defined]
    assert discover_nvml() == []
    assert nvml_usage([UUIDS[0]]) == {UUIDS[0]: {"utilization": None, "memory_used": None}}


def test_nvml_gpus_and_the_configured_inventory_are_allocated_together(
    fake_nvml: types.ModuleType, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    db.upgrade()
    service = ResourceService(
        db,
        root_dir=tmp_path,
        gpu_inventory=[
            {"uuid": "GPU-extra", "model": "Test-GPU"},
            {"uuid": UUIDS[0], "model": "x"},
        ],
    )
    assert [g.uuid for g in service.inventory()] == [*UUIDS, "GPU-extra"]
    assert service.capacity()["host"]["gpu_discovery"] == "nvml"
    assert service.acquire("kernel:k1", None, None, 2, "NVIDIA H200") == UUIDS
    assert service.acquire("kernel:k2", None, None, 1, None) == ["GPU-extra"]
    db.dispose()
