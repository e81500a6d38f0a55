"""The demo workspace that `make run` opens: its configuration (the demo dataset in the catalog,
profiles that fit this machine) and its example notebook, which trains for real in a kernel (one
process) and as a 2-process DistributedDataParallel job, and registers its model."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import papermill
import psutil
import pytest
from traitlets.config import Config, PyFileConfigLoader

from labrig.app import LabrigApp
from labrig.dataset_mounts.cache import DatasetCache
from labrig.models import python_api
from labrig.resources.quantity import parse_bytes
from labrig.resources.service import ResourceService
from labrig.services import Services, load_services
from labrig.store import PageRequest

EXAMPLES = Path(__file__).parents[2] / "examples"
NOTEBOOK = EXAMPLES / "train_moons.ipynb"
DEMO_CONFIG = EXAMPLES / "jupyter_server_config.py"


def demo_config() -> Config:
    return PyFileConfigLoader(DEMO_CONFIG.name, str(EXAMPLES)).load_config()


@pytest.fixture
def demo(tmp_path: Path, labrig_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo configuration with its state under the test's folder, as the file that kernels,
    the CLI and job ranks read (LABRIG_CONFIG_FILE, as `make run`'s server sets it)."""
    config = tmp_path / "demo_config.py"
    config.write_text(
        f"load_subconfig({DEMO_CONFIG.name!r}, {str(EXAMPLES)!r})\n"
        f"c.LabrigApp.data_dir = {str(labrig_env)!r}\n"
        f"c.DatasetCache.mount_root = {str(labrig_env / 'datasets')!r}\n"
    )
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    return config


@pytest.fixture
def demo_services(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    shutil.copy(NOTEBOOK, workspace)
    monkeypatch.chdir(workspace)  # the CLI's (and these services') notebook root
    python_api.reset()
    services = load_services()
    yield services
    for job in services.jobs.list(PageRequest(limit=50)).items:
        if job["status"] in ("QUEUED", "STARTING", "RUNNING"):
            services.jobs.cancel(job["id"])
    python_api.reset()
    services.close()


def test_parameters_cell_is_tagged_and_typed() -> None:
    params = papermill.inspect_notebook(str(NOTEBOOK))
    assert {name: p["inferred_type_name"] for name, p in params.items()} == {
        "lr": "float",
        "epochs": "int",
        "hidden": "int",
        "batch_size": "int",
        "seed": "int",
        "dataset": "str",
        "model_name": "str",
    }
    assert params["lr"]["help"] == "learning rate of the Adam optimiser"
    assert params["model_name"]["default"] == '"demo-model"'


def test_the_demo_configuration_names_only_real_settings() -> None:
    config = demo_config()
    for section, cls in (
        ("LabrigApp", LabrigApp),
        ("DatasetCache", DatasetCache),
        ("ResourceService", ResourceService),
    ):
        unknown = set(config[section]) - set(cls.class_traits(config=True))
        assert unknown == set(), f"{section} has no settings {sorted(unknown)}"
    assert set(config) == {"LabrigApp", "DatasetCache", "ResourceService"}


def test_the_demo_profiles_fit_this_machine() -> None:
    config = demo_config()
    service = ResourceService(None, config=config)  # type: ignore[arg-type]
    profiles = service.profiles()
    assert [p.slug for p in profiles] == ["small", "all-cpus", "custom"]
    cpus = len(os.sched_getaffinity(0))
    memory = psutil.virtual_memory().total
    for profile in profiles:
        assert profile.cpus is not None
        assert profile.cpus <= cpus, profile
        assert profile.memory is not None
        assert profile.memory <= memory, profile
    small = profiles[0]
    assert (small.default, small.cpus) == (True, 1)
    assert small.memory is not None
    assert parse_bytes("256Mi") <= small.memory <= max(min(2 * 2**30, memory // 4), 2**28)


async def test_the_demo_dataset_is_in_the_catalog_of_a_server_started_with_the_demo_config(
    jp_serverapp: Any, api: Any
) -> None:
    code, page = await api("datasets")
    assert code == 200, page
    moons = next(d for d in page["items"] if d["name"] == "moons")
    assert moons["admin"] is True
    assert moons["source_url"] == (EXAMPLES / "data").as_uri() + "/"
    code, profiles = await api("resource-profiles")
    assert code == 200
    assert [p["slug"] for p in profiles["items"]] == ["small", "all-cpus", "custom"]


@pytest.fixture
def jp_server_config(labrig_env: Path) -> dict[str, Any]:
    """The test server, configured as `make run` configures it (state under the test's folder)."""
    config = demo_config()
    config.LabrigApp.data_dir = str(labrig_env)
    config.DatasetCache.mount_root = str(labrig_env / "datasets")
    config.ServerApp.jpserver_extensions = {"labrig": True}
    return config  # type: ignore[no-any-return]


def test_the_notebook_trains_in_a_kernel_as_one_process(
    demo_services: Services, labrig_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in JupyterLab: no WORLD_SIZE, the dataset mounted on first use, the model registered."""
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    out = Path.cwd() / "out.ipynb"
    papermill.execute_notebook(
        "train_moons.ipynb", str(out), parameters={"epochs": 40}, progress_bar=False
    )
    text = outputs(out)
    assert "process 0 of 1" in text
    assert "480 points on rank 0" in text
    assert float(text.split("test accuracy: ")[1].split()[0]) > 0.9, text
    assert "registered demo-model/1" in text
    moons = demo_services.datasets.get("moons")
    assert moons["mount_path"] == str(labrig_env / "datasets" / "moons")
    version = demo_services.models.get_ref("demo-model/1")
    assert version["metrics"]["accuracy"] > 0.9
    assert version["params"]["processes"] == 1
    assert version["lineage"]["datasets"] == {"moons": moons["version"]}


@pytest.mark.parametrize("declared", [True, False], ids=["dataset-declared", "first-try"])
def test_the_notebook_trains_as_a_two_process_job(demo_services: Services, declared: bool) -> None:
    """Each rank trains on its half of the points and DDP averages the gradients; rank 0
    registers the model with the job's lineage. Declared, the warmed dataset is mounted for the
    job and its version is in the lineage; on a first try (nothing warmed, nothing declared),
    rank 0 warms and mounts it while the other rank waits."""
    from labrig.jobs.cli import wait_for_end

    jobs = demo_services.jobs
    body: dict[str, Any] = {
        "notebook_path": "train_moons.ipynb",
        "procs_per_node": 2,
        "cpus": "500m",
        "parameters": {"epochs": 30, "lr": 0.05},
    }
    if declared:
        demo_services.datasets.warm("moons")  # Warm in the panel: jobs mount warmed datasets
        body["datasets"] = ["moons"]
    job = jobs.submit(body)
    done = wait_for_end(jobs, job["id"], quiet=True)
    assert done["status"] == "SUCCEEDED", (done["reason"], jobs.logs(job["id"], 0)["text"][-3000:])
    for rank in (0, 1):
        log = jobs.logs(job["id"], rank)["text"]
        assert f"process {rank} of 2" in log
        assert f"240 points on rank {rank}" in log, log[-2000:]
        assert "test accuracy" in log
    losses = jobs.metrics(job["id"])["metrics"]["loss"]
    assert sorted({p["rank"] for p in losses}) == [0, 1]
    assert len(losses) == 2 * 30
    version = demo_services.models.get_ref("demo-model/1")
    lineage = version["lineage"]
    assert (lineage["job_id"], lineage["rank"]) == (job["id"], 0)
    assert lineage["parameters"] == {"epochs": 30, "lr": 0.05}
    # Declared, the job pinned it; on a first try, rank 0 noted what labrig.datasets.path read.
    assert lineage["datasets"] == {"moons": demo_services.datasets.get("moons")["version"]}
    assert version["params"]["processes"] == 2
    assert version["metrics"]["accuracy"] > 0.9


def outputs(notebook: Path) -> str:
    return "".join(
        "".join(output.get("text", ""))
        for cell in json.loads(notebook.read_text())["cells"]
        for output in cell.get("outputs", [])
    )
