"""Fixtures for the registry on object stores: a fresh bucket on moto's S3 server as the model
store (``s3://`` or ``oss://``), the configuration naming it, and a log recorder."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from dataset_servers import S3Server, s3_server
from store_rig import ObjectStore, RecordingHandler, make_object_store

from labrig.models import python_api

__all__ = ["s3_server"]


@pytest.fixture(params=[("s3", "env"), ("oss", "options")], ids=lambda p: "-".join(p))
def object_store(
    request: pytest.FixtureRequest, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ObjectStore]:
    """A fresh bucket as the model store; indirect parametrisation picks (kind, creds)."""
    kind, creds = request.param
    store = make_object_store(kind, creds, s3_server, monkeypatch)
    yield store
    s3_server.counter.refused_keys.discard(store.key_id)


@pytest.fixture
def store_config(
    object_store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The store as the configuration the CLI and ``labrig.models`` read ($LABRIG_CONFIG_FILE)."""
    config = object_store.write_config(tmp_path / "jupyter_server_config.json")
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    python_api.reset()
    yield config
    python_api.reset()


@pytest.fixture
def log_lines() -> Iterator[RecordingHandler]:
    """Every log record at DEBUG and above, from every logger that propagates to the root."""
    handler = RecordingHandler()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _each_database(on_each_database: str) -> str:
    """The registry's integration tests run on SQLite and on PostgreSQL."""
    return on_each_database
