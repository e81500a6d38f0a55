"""Fixtures for kernels started through labrig's provisioner with a two-GPU test inventory."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from resource_rig import INVENTORY, provisioner_service

from labrig.resources import runtime
from labrig.resources.service import ResourceService


@pytest.fixture
def labrig_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that names labrig's provisioner."""
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "labrig-limits"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (labrig limits)",
        "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "labrig-local-provisioner"}},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    return "labrig-limits"


@pytest.fixture
def kernel_resources(labrig_env: Path, tmp_path: Path) -> Iterator[ResourceService]:
    """The ResourceService the provisioner uses in this test (cgroups where the host allows)."""
    service = provisioner_service(labrig_env, tmp_path / "root")
    yield service
    runtime.set_current(None)
    service.db.dispose()


@pytest.fixture
def jp_server_config(labrig_env: Path) -> dict[str, object]:
    """The test server, with the two-GPU test inventory and a known capacity."""
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {"data_dir": str(labrig_env)},
        "ResourceService": {
            "gpu_inventory": INVENTORY,
            "discover_gpus": False,
            "capacity_cpus": 2,
            "capacity_memory": "8Gi",
            "capacity_disk": "100Gi",
        },
    }
