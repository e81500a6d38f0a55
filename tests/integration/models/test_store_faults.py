"""Model stores failing under a registration: an object store that goes away mid-upload (its
server stops), and a local store whose disk really fills up. Each registration fails with a
message naming the store, records no version and leaves nothing half-written."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import S3Server
from sqlalchemy import select
from store_rig import PART, ObjectStore, make_object_store

import labrig.models as models
from labrig.errors import LabrigError, NotFound, StorageFull
from labrig.models import python_api
from labrig.models.registry import ModelRegistry
from labrig.models.tables import ModelFile, ModelVersion
from labrig.services import Services

pytest.importorskip("s3fs")
pytestmark = pytest.mark.slow


@pytest.fixture
def own_server() -> Iterator[S3Server]:
    """A moto server of this test's own, since the test stops it."""
    server = S3Server()
    yield server
    server.stop()


def test_a_store_that_goes_away_mid_upload_fails_the_registration_cleanly(
    own_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    labrig_env: Path,
) -> None:
    store: ObjectStore = make_object_store("s3", "env", own_server, monkeypatch)
    config = store.write_config(tmp_path / "jupyter_server_config.json")
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    python_api.reset()
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * PART))
    own_server.counter.part_delay = 0.5
    outcome: dict[str, LabrigError] = {}

    def register() -> None:
        try:
            models.register("orphan", big)
        except LabrigError as err:  # anything else leaves no outcome and fails below
            outcome["error"] = err

    worker = threading.Thread(target=register)
    worker.start()
    deadline = time.monotonic() + 60
    while store.multipart("part") < 1:
        assert time.monotonic() < deadline, "the upload never started"
        time.sleep(0.05)
    own_server.stop()
    worker.join(300)
    assert not worker.is_alive()

    error = outcome.get("error")
    assert isinstance(error, LabrigError), repr(error)
    assert store.url in error.message or store.server.endpoint_url in error.message, error
    assert store.secret not in error.message
    registry = python_api.registry()
    with pytest.raises(NotFound):
        registry.get("orphan")
    with registry.db.session() as session:  # nothing half-written behind the API either
        assert session.scalars(select(ModelVersion)).all() == []
        assert session.scalars(select(ModelFile)).all() == []
    python_api.reset()


def test_a_registration_on_a_disk_that_really_fills_is_storage_full_and_keeps_nothing(
    services: Services, small_disk: Any, tmp_path: Path
) -> None:
    disk = small_disk(tmp_path / "small")
    registry = ModelRegistry(services.db, (disk / "models").as_uri())
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(12 * 2**20))
    with pytest.raises(StorageFull) as caught:
        registry.register("too-big", weights)
    assert "model store" in caught.value.message, caught.value.message
    with pytest.raises(NotFound):
        registry.get("too-big")
    assert [p for p in disk.rglob("*") if p.is_file() and p.stat().st_size] == []
