"""Fixtures for the dataset tests: real S3 (moto) and HTTP sources, and a catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dataset_servers import file_server, http_root, s3_creds, s3_server

from labrig.app import LabrigApp
from labrig.dataset_mounts.cache import LocalDatasetCache
from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.store import Database

__all__ = ["file_server", "http_root", "s3_creds", "s3_server"]


@pytest.fixture
def mount_root(tmp_path: Path) -> Path:
    return tmp_path / "datasets"


@pytest.fixture
def catalog(labrig_env: Path, mount_root: Path) -> Iterator[DatasetCatalog]:
    app = LabrigApp(data_dir=str(labrig_env))
    cache = LocalDatasetCache(parent=app, mount_root=str(mount_root), range_size=256 * 1024)
    db = Database(f"sqlite:///{labrig_env / 'labrig.db'}")
    db.upgrade()
    yield DatasetCatalog(db, cache)
    db.dispose()
