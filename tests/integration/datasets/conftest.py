"""Fixtures for the dataset tests: real S3 (moto) and HTTP sources, and a catalog on this
host's cache or (``any_catalog``) on each cache in turn: local, and Fluid in an emulated
cluster (``k8s.rig``)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import S3Server, file_server, http_root, s3_creds, s3_server
from k8s.rig import job_storage, kube
from traitlets.config import Config

from labrig.app import LabrigApp
from labrig.dataset_mounts.cache import LocalDatasetCache
from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.store import Database

__all__ = ["file_server", "http_root", "job_storage", "kube", "s3_creds", "s3_server"]


@pytest.fixture(autouse=True)
def _each_database(on_each_database: str) -> str:
    """Every dataset test runs on SQLite and on PostgreSQL."""
    return on_each_database


@pytest.fixture(autouse=True)
def _empty_s3_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    """The run's S3 server forgets each test's buckets: the tests name fixed buckets, and the
    same test runs once per database."""
    yield
    if "s3_server" in request.fixturenames:
        server: S3Server = request.getfixturevalue("s3_server")
        reset = urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=30):
            pass


@pytest.fixture
def mount_root(tmp_path: Path) -> Path:
    return tmp_path / "datasets"


@pytest.fixture
def catalog(labrig_env: Path, mount_root: Path, database_url: str) -> Iterator[DatasetCatalog]:
    app = LabrigApp(data_dir=str(labrig_env))
    cache = LocalDatasetCache(
        parent=app,
        mount_root=str(mount_root),
        range_size=256 * 1024,
        allowed_credentials_env=["TEST_*"],  # s3_creds' variables
    )
    db = Database(database_url)
    db.upgrade()
    yield DatasetCatalog(db, cache)
    db.dispose()


@pytest.fixture
def fluid_catalog(labrig_env: Path, mount_root: Path, kube: Any) -> Iterator[Any]:
    """``fluid_catalog(**FluidDatasetCache settings)``: a catalog whose cache is Fluid in the
    emulated cluster (``k8s.rig``), configured as a platform team would
    (``LabrigApp.dataset_cache_class`` + ``FluidDatasetCache``)."""
    made: list[DatasetCatalog] = []

    def make(**cache: Any) -> DatasetCatalog:
        config = Config()
        config.LabrigApp.dataset_cache_class = "labrig.k8s.fluid.FluidDatasetCache"
        config.KubernetesJobBackend = Config(kube.settings())
        config.DatasetCache.mount_root = str(mount_root)
        config.DatasetCache.allowed_credentials_env = ["FLUID_TEST_*", "FLUID_OSS_*"]
        config.FluidDatasetCache = Config({"poll_interval": 0.05, "ready_timeout": 10.0, **cache})
        app = LabrigApp(data_dir=str(labrig_env), config=config)
        db = Database(f"sqlite:///{labrig_env / 'labrig.db'}")
        db.upgrade()
        made.append(DatasetCatalog(db, app.dataset_cache_class(parent=app)))
        return made[-1]

    yield make
    for catalog in made:
        catalog.db.dispose()


@pytest.fixture(params=["local", "kubernetes"])
def any_catalog(request: pytest.FixtureRequest) -> DatasetCatalog:
    """The catalog on each cache in turn: the behaviour tested holds for both."""
    if request.param == "local":
        catalog: DatasetCatalog = request.getfixturevalue("catalog")
        return catalog
    made: DatasetCatalog = request.getfixturevalue("fluid_catalog")()
    return made
