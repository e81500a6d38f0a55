"""The registry on object stores, against moto's S3 server on loopback: ``s3://`` through s3fs
and ``oss://`` through ossfs (the OSS-dialect adapter), configured as a deployment configures
them (``LabrigApp.model_store_url``/``model_store_options``, credentials there or in the
environment), through the Python API, the CLI and REST."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from store_rig import PART, ObjectStore, server_config

import labrig.models as models
from labrig.cli import cli
from labrig.errors import NotFound, Unavailable
from labrig.models import python_api
from labrig.models.store_access import StoreAccessDenied
from labrig.store import PageRequest

pytest.importorskip("s3fs")
pytest.importorskip("ossfs")

BOTH = pytest.mark.parametrize(
    "object_store", [("s3", "env"), ("oss", "options")], indirect=True, ids=["s3", "oss"]
)


def blob_key(sha256: str) -> str:
    return f"labrig/blobs/{sha256[:2]}/{sha256}"


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@BOTH
def test_python_api_uploads_in_parts_loads_and_collects(
    object_store: ObjectStore, store_config: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * PART + 12345))  # three parts: 5 MiB, 5 MiB, the rest
    first = models.register("obj-model", big, metrics={"acc": 0.5})
    sha = first["files"][0]["sha256"]
    assert object_store.keys() == [blob_key(sha)]
    assert (object_store.multipart("initiate"), object_store.multipart("part")) == (1, 3)
    assert object_store.multipart("complete") == 1
    assert object_store.pending_uploads() == []

    small = tmp_path / "small"
    small.mkdir()
    (small / "config.json").write_text('{"layers": 2}')
    (small / "head.bin").write_bytes(b"head" * 100)
    second = models.register("obj-model", small)
    assert object_store.multipart("initiate") == 1  # small files go up in one PUT each
    again = models.register("obj-model", big)  # the same bytes: hashed, not uploaded again
    assert again["files"][0]["sha256"] == sha
    assert (object_store.multipart("initiate"), object_store.multipart("part")) == (1, 3)

    assert Path(models.load("obj-model/1")).read_bytes() == big.read_bytes()
    loaded = Path(models.load(f"obj-model/{second['version']}"))
    assert (loaded / "head.bin").read_bytes() == b"head" * 100

    reg = python_api.registry()
    reg.delete_version("obj-model", second["version"])
    result = reg.gc(timedelta(0))
    assert result["removed_blobs"] == 2
    assert object_store.keys() == [blob_key(sha)]
    assert [
        v["version"] for v in reg.list_versions("obj-model", PageRequest(), "version", False).items
    ] == [1, 3]


@BOTH
def test_cli_registers_loads_and_collects(
    object_store: ObjectStore, store_config: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(PART + 1))
    code, out, err = run_cli("models", "register", "cli-model", str(weights), "--json")
    assert code == 0, err
    sha = json.loads(out)["files"][0]["sha256"]
    assert object_store.keys() == [blob_key(sha)]
    assert object_store.multipart("part") == 2
    code, out, err = run_cli("models", "load", "cli-model/1", "--json")
    assert code == 0, err
    assert Path(json.loads(out)["path"]).read_bytes() == weights.read_bytes()
    assert run_cli("models", "rm", "cli-model/1", "--yes")[0] == 0
    code, out, err = run_cli("models", "gc", "--grace", "0", "--json")
    assert code == 0, err
    assert (json.loads(out)["removed_blobs"], object_store.keys()) == (1, [])


@pytest.fixture
def jp_server_config(labrig_env: Path, object_store: ObjectStore) -> dict[str, Any]:
    return server_config(labrig_env, object_store)


@BOTH
async def test_rest_registers_and_downloads(
    object_store: ObjectStore, api: Any, jp_fetch: Any, jp_root_dir: Path
) -> None:
    data = os.urandom(PART + 77)
    (jp_root_dir / "model.pt").write_bytes(data)
    status, version = await api(
        "models/rest-model/versions", method="POST", body={"path": "model.pt"}
    )
    assert status == 201, version
    assert object_store.keys() == [blob_key(version["files"][0]["sha256"])]
    response = await jp_fetch(
        "labrig", "api", "v1", "models", "rest-model", "versions", "1", "files", "model.pt"
    )
    assert response.body == data
    status, info = await api("status")
    assert info["backends"]["models"] == object_store.kind


def start_registration(store: ObjectStore, config: Path, path: Path, data_dir: Path) -> Any:
    """``labrig.models.register`` in a process of its own, configured like the server."""
    env = {
        **os.environ,
        "LABRIG_CONFIG_FILE": str(config),
        "LABRIG_DATA_DIR": str(data_dir),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    code = f"import labrig.models as m; m.register('killed', {str(path)!r})"
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
@BOTH
def test_sigkill_during_an_upload_leaves_no_version_and_gc_aborts_the_upload(
    object_store: ObjectStore, store_config: Path, tmp_path: Path, labrig_env: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * PART))
    # Parts are counted as they arrive, then held: three parts keep the upload in flight for
    # about a second and a half after the first one shows.
    object_store.server.counter.part_delay = 0.5
    try:
        proc = start_registration(object_store, store_config, big, labrig_env)
        try:
            wait_for(lambda: object_store.multipart("part") >= 1, "the upload's first part")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
    finally:
        object_store.server.counter.part_delay = 0.0
    assert proc.returncode == -signal.SIGKILL
    assert object_store.multipart("complete") == 0

    reg = python_api.registry()
    with pytest.raises(NotFound):
        reg.get("killed")
    assert object_store.keys() == []  # nothing visible under the blob's key
    assert len(object_store.pending_uploads()) == 1

    # The dead registration's lease still guards its upload until the lease expires.
    code, out, err = run_cli("models", "gc", "--grace", "0", "--json")
    assert (code, json.loads(out)["aborted_uploads"]) == (0, 0), err
    code, out, err = run_cli("models", "gc", "--grace", "0", "--lease-ttl", "0")
    assert code == 0, err
    assert "aborted 1 unfinished uploads" in out
    assert object_store.pending_uploads() == []
    assert object_store.multipart("abort") == 1

    again = models.register("killed", big)  # the same bytes: uploaded whole this time
    assert Path(models.load(again["ref"])).read_bytes() == big.read_bytes()


@BOTH
def test_gc_leaves_an_upload_in_flight_alone(
    object_store: ObjectStore, store_config: Path, tmp_path: Path
) -> None:
    """With a grace of 0 every upload begun counts as old (and moto dates them all 2010), so
    only the registration's lease keeps gc off it."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * PART))
    done: dict[str, Any] = {}
    object_store.server.counter.part_delay = 0.3
    try:
        worker = threading.Thread(
            target=lambda: done.update(models.register("in-flight", big)), daemon=True
        )
        worker.start()
        wait_for(lambda: object_store.multipart("part") >= 1, "the upload's first part")
        result = python_api.registry().gc(timedelta(0))
        worker.join(60)
    finally:
        object_store.server.counter.part_delay = 0.0
    assert result["aborted_uploads"] == 0
    assert done["version"] == 1
    assert Path(models.load("in-flight/1")).read_bytes() == big.read_bytes()


ALL_SOURCES = pytest.mark.parametrize(
    "object_store",
    [("s3", "env"), ("s3", "options"), ("oss", "env"), ("oss", "options")],
    indirect=True,
    ids=["s3-env", "s3-options", "oss-env", "oss-options"],
)


@ALL_SOURCES
def test_a_store_refusing_the_credentials_names_the_store_and_the_setting(
    object_store: ObjectStore, store_config: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"weights")
    object_store.refuse()
    with pytest.raises(StoreAccessDenied) as refused:
        models.register("refused", weights)
    message = refused.value.message
    assert object_store.url in message
    assert "LabrigApp.model_store_options" in message
    key_var = "AWS_ACCESS_KEY_ID" if object_store.kind == "s3" else "OSS_ACCESS_KEY_ID"
    assert key_var in message
    assert object_store.secret not in message
    code, _out, err = run_cli("models", "register", "refused", str(weights))
    assert code == 1
    assert "refused labrig's credentials" in err
    assert object_store.secret not in err
    code, _out, err = run_cli("models", "gc", "--grace", "0")
    assert (code, object_store.url in err) == (1, True)


@BOTH
def test_a_missing_bucket_is_named(
    object_store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    object_store.bucket = f"{object_store.bucket}-missing"
    config = object_store.write_config(tmp_path / "jupyter_server_config.json")
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    python_api.reset()
    (tmp_path / "w.bin").write_bytes(b"weights")
    try:
        with pytest.raises(Unavailable, match=f"has no bucket '{object_store.bucket}'"):
            models.register("nowhere", tmp_path / "w.bin")
    finally:
        python_api.reset()
