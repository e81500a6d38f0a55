"""Tiny notebooks and a job service for the job tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from k8s.rig import KubeRig, job_storage, kube  # noqa: F401 - fixtures
from postgres_server import PostgresServer

from labrig.jobs.backend import JobBackend
from labrig.jobs.capacity import HostCapacity
from labrig.jobs.local import LocalJobBackend
from labrig.jobs.service import JobService
from labrig.services import Services
from labrig.store import PageRequest


def write_notebook(path: Path, *cells: str, params: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if params is not None:
        cell = nbformat.v4.new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def wait_for(
    service: JobService, job_id: str, statuses: tuple[str, ...], timeout: float = 90
) -> dict[str, Any]:
    """Poll a job (ticking the service as the server does) until it reaches ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        service.tick()
        job: dict[str, Any] = service.get(job_id)
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job stayed {job['status']}: {job}")
        time.sleep(0.1)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


def _service(
    services: Services, root: Path, labrig_env: Path, backend: JobBackend
) -> Iterator[JobService]:
    service = JobService(
        services.db,
        labrig_env,
        root,
        capacity=HostCapacity(labrig_env / "cap", cpus=4),
        backend=backend,
    )
    yield service
    for job in service.list(PageRequest(limit=500)).items:
        if job["status"] in ("QUEUED", "STARTING", "RUNNING"):
            service.cancel(job["id"])


@pytest.fixture(params=["local", "local-postgresql", "kubernetes"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> JobBackend:
    """Each backend in turn: the behavioural suite holds for both, and the local one holds on
    PostgreSQL too (its supervisors and ranks write the job's state from other processes)."""
    if request.param == "kubernetes":
        rig: KubeRig = request.getfixturevalue("kube")
        return rig.backend()
    if request.param == "local-postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("LABRIG_DATABASE_URL", server.new_database())
    return LocalJobBackend()


@pytest.fixture
def jobs(
    backend: JobBackend, services: Services, root: Path, labrig_env: Path
) -> Iterator[JobService]:
    """A job service on the test's state directory, with the notebooks under ``root``, on each
    backend in turn; every job still running at the end is cancelled so nothing outlives the
    test."""
    # ``backend`` comes first: it chooses the database the services then open.
    assert services.db.url == os.environ.get("LABRIG_DATABASE_URL", services.db.url)
    yield from _service(services, root, labrig_env, backend)


@pytest.fixture
def local_jobs(services: Services, root: Path, labrig_env: Path) -> Iterator[JobService]:
    """The job service on the local backend, for what only a local job has (its processes,
    its cgroups)."""
    yield from _service(services, root, labrig_env, LocalJobBackend())


@pytest.fixture
def notebook(root: Path) -> Any:
    """``notebook("name.ipynb", *cells, params=...)`` writes a notebook under the root."""
    return lambda name, *cells, params=None: write_notebook(root / name, *cells, params=params)


@pytest.fixture
def wait() -> Any:
    return wait_for


@pytest.fixture(scope="session")
def check() -> Any:
    """``check(status, body, path, verb)`` from test_openapi: the answer fits the spec."""
    import importlib.util

    source = Path(__file__).parent.parent / "test_openapi.py"
    spec = importlib.util.spec_from_file_location("labrig_test_openapi", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


PARAMS = 'lr: float = 0.05  # learning rate\nepochs: int = 3\nname: str = "x"\nflag: bool = False'


@pytest.fixture
def server_root(server_services: Services) -> Path:
    root = server_services.jobs.root_dir
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    cell = nbformat.v4.new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(lr * epochs)")]
    (root / "nb").mkdir(exist_ok=True)
    nbformat.write(nb, root / "nb" / "train.ipynb")
    (root / "nb" / "broken.ipynb").write_text("{not json")
    (root / "nb" / "notes.txt").write_text("hello")
    bare = nbformat.v4.new_notebook()
    bare.cells = [nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(bare, root / "nb" / "bare.ipynb")
    return root
