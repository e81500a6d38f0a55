"""The registry on an S3 store (moto's server on 127.0.0.1, through s3fs)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from labrig.errors import Unavailable
from labrig.jobs.supervisor import free_port
from labrig.models.registry import ModelRegistry
from labrig.services import Services
from labrig.store import PageRequest

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_options(endpoint: str) -> dict[str, Any]:
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        "config_kwargs": {"connect_timeout": 2, "retries": {"max_attempts": 1}},
    }


@pytest.fixture
def s3_registry(
    services: Services, s3_endpoint: str, request: pytest.FixtureRequest
) -> ModelRegistry:
    # One bucket per test and database (a node name with its [id] is no bucket name).
    bucket = "models-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    options = s3_options(s3_endpoint)
    reg = ModelRegistry(
        services.db,
        f"s3://{bucket}/labrig",
        store_options=options,
        cache_dir=Path(services.models.cache_dir or "."),
    )
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    return reg


def test_register_dedupe_load_and_gc_on_s3(s3_registry: ModelRegistry, tmp_path: Path) -> None:
    reg = s3_registry
    data = os.urandom(7 * 1024 * 1024)  # more than one multipart part of 5 MiB
    (tmp_path / "w.bin").write_bytes(data)
    first = reg.register("s3-model", tmp_path / "w.bin", metrics={"acc": 0.5})
    again = reg.register("s3-model", tmp_path / "w.bin", metrics={"acc": 0.6})
    assert first["files"][0]["sha256"] == again["files"][0]["sha256"]
    assert [sha for sha, _ in reg.store.iter_blobs()] == [first["files"][0]["sha256"]]
    assert reg.load_path("s3-model@latest").read_bytes() == data

    (tmp_path / "other.bin").write_bytes(b"other bytes")
    other = reg.register("s3-model", tmp_path / "other.bin")
    reg.delete_version("s3-model", other["version"])
    result = reg.gc(timedelta(0))
    assert result["blobs"] == [other["files"][0]["sha256"]]
    assert len(list(reg.store.iter_blobs())) == 1
    assert reg.get("s3-model")["version_count"] == 2


def test_an_unreachable_s3_store_is_unavailable(services: Services, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    reg = ModelRegistry(
        services.db, "s3://nowhere/labrig", store_options=s3_options(f"http://127.0.0.1:{port}")
    )
    (tmp_path / "w.bin").write_bytes(b"weights")
    with pytest.raises(Unavailable, match="cannot be reached"):
        reg.register("s3-model", tmp_path / "w.bin")
    assert services.models.list(PageRequest()).items == []
