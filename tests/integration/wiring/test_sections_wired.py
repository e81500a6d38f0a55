"""The sections work together as ``build_services`` wires them: kernels see mounted datasets,
and jobs take GPUs from the same ledger as interactive kernels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from traitlets.config import Config

from labrig.app import LabrigApp
from labrig.errors import CapacityExceeded
from labrig.jobs.capacity import SharedLedger
from labrig.kernels.provisioner import plan_kernel
from labrig.services import Services, build_services

ONE_GPU = [{"uuid": "GPU-33333333-aaaa-bbbb-cccc-000000000000", "model": "Test-GPU-24GB"}]


@pytest.fixture
def wired(labrig_env: Path, tmp_path: Path) -> Iterator[Services]:
    config = {
        "ResourceService": {"gpu_inventory": ONE_GPU, "discover_gpus": False},
        "DatasetCache": {"mount_root": str(tmp_path / "datasets")},
    }
    app = LabrigApp(data_dir=str(labrig_env), config=Config(config))
    services = build_services(app)
    yield services
    services.close()


def test_a_kernel_sees_the_mounted_datasets(wired: Services, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "rows.csv").write_text("x,y\n1,2\n")
    wired.datasets.create({"name": "tiny", "source_url": source.as_uri()})
    wired.datasets.warm("tiny")
    wired.datasets.mount("tiny")

    plan = plan_kernel(wired.resources, "k-wired", {})
    try:
        path = Path(plan.env["LABRIG_DATASET_TINY"])
        assert path == tmp_path / "datasets" / "tiny"
        assert (path / "rows.csv").read_text() == "x,y\n1,2\n"
    finally:
        wired.resources.release("kernel:k-wired")


def test_a_job_cannot_take_the_gpu_a_kernel_holds(wired: Services) -> None:
    assert isinstance(wired.jobs.ledger, SharedLedger)
    wired.resources.acquire("kernel:k-gpu", None, None, 1, None)

    with pytest.raises(CapacityExceeded, match="kernel:k-gpu"):
        wired.jobs.ledger.acquire("job:j1/rank0", 1, None, 1, None)
    # The refused job holds nothing, not even the CPU it asked for.
    assert "job:j1/rank0" not in wired.jobs.capacity.holders()

    wired.resources.release("kernel:k-gpu")
    granted = wired.jobs.ledger.acquire("job:j1/rank0", 1, None, 1, None)
    assert granted == [ONE_GPU[0]["uuid"]]
    with pytest.raises(CapacityExceeded, match="job:j1/rank0"):
        wired.resources.acquire("kernel:k-late", None, None, 1, None)
    wired.jobs.ledger.release("job:j1/rank0")
    assert wired.resources.acquire("kernel:k-late", None, None, 1, None) == granted
