"""The sections work together as ``build_services`` wires them: kernels see mounted datasets,
and jobs take GPUs from the same ledger as interactive kernels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from labrig.app import LabrigApp
from labrig.errors import CapacityExceeded
from labrig.jobs.capacity import SharedLedger
from labrig.kernels.provisioner import plan_kernel
from labrig.services import Services, build_services
from labrig.store import PageRequest

ONE_GPU = [{"uuid": "GPU-33333333-aaaa-bbbb-cccc-000000000000", "model": "Test-GPU-24GB"}]


@pytest.fixture
def wired(labrig_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    (tmp_path / "root").mkdir()
    monkeypatch.chdir(tmp_path / "root")  # the CLI's server root is its working directory
    config = {
        "ResourceService": {"gpu_inventory": ONE_GPU, "discover_gpus": False},
        "DatasetCache": {"mount_root": str(tmp_path / "datasets")},
        # the tests' sources lie beside the root, not under it
        "LabrigApp": {"local_dataset_roots": [str(tmp_path)]},
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


def test_the_job_form_defaults_to_the_datasets_the_notebook_sees(
    wired: Services, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "rows.csv").write_text("x,y\n1,2\n")
    for name in ("tiny", "unmounted"):
        wired.datasets.create({"name": name, "source_url": source.as_uri()})
    wired.datasets.warm("tiny")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "root" / "train.ipynb")
    assert wired.jobs.job_form("train.ipynb")["defaults"]["datasets"] == []

    wired.datasets.mount("tiny")

    assert wired.jobs.job_form("train.ipynb")["defaults"]["datasets"] == ["tiny"]


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


def test_a_notebook_over_its_scratch_quota_cannot_submit_jobs(
    wired: Services, tmp_path: Path
) -> None:
    notebook = tmp_path / "root" / "train.ipynb"
    notebook.write_text(json.dumps(nbformat.v4.new_notebook()))
    wired.resources.save("train.ipynb", {"profile": "custom", "disk": "1Ki"})
    scratch = wired.resources.scratch_dir("train.ipynb")
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "checkpoint.bin").write_bytes(b"x" * 4096)

    with pytest.raises(CapacityExceeded, match="over its quota") as refused:
        wired.jobs.submit({"notebook_path": "train.ipynb"})
    assert refused.value.field == "disk"
    assert wired.jobs.list(PageRequest(limit=10)).items == []
