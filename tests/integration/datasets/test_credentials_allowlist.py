"""A user's dataset may name only the environment variables an administrator allowed
(``DatasetCache.allowed_credentials_env``): otherwise the server would read any of its variables
(its own store credentials, its database URL) and send the value to an endpoint the user chose.
Refused with a 400 naming the variable and the setting, over REST, the CLI and the Python API,
when the dataset is added and again when it is used after the list was narrowed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dataset_servers import S3Server

import labrig.datasets as ds
from labrig.cli import cli
from labrig.errors import InvalidInput
from labrig.services import Services

ALLOWED = ["ALLOWED_DS_*"]
SETTING = "c.DatasetCache.allowed_credentials_env"


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A bucket, the allowed variables holding its credentials, and the server's own secret
    in a variable a user must not name."""
    s3_server.put_tree("allow-list", {"data/a.bin": b"a"})
    monkeypatch.setenv("ALLOWED_DS_KEY", "dataset-key")
    monkeypatch.setenv("ALLOWED_DS_SECRET", "dataset-secret")
    monkeypatch.setenv("SERVER_OWN_KEY", "the-servers-own-key")
    monkeypatch.setenv("SERVER_OWN_SECRET", "the-servers-own-secret")
    return {"source_url": "s3://allow-list/data", "endpoint_url": s3_server.endpoint_url}


@pytest.fixture
def jp_server_config(labrig_env: Path, tmp_path: Path, bucket: dict[str, Any]) -> dict[str, Any]:
    # The administrator's own dataset may name any variable: the list binds users' datasets.
    admin = body(bucket, "admin-ds", key="SERVER_OWN_KEY", secret="SERVER_OWN_SECRET")
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {"data_dir": str(labrig_env)},
        "DatasetCache": {"allowed_credentials_env": ALLOWED, "datasets": [admin]},
        "LocalDatasetCache": {"mount_root": str(tmp_path / "mounts")},
    }


def body(bucket: dict[str, Any], name: str, **credentials_env: str) -> dict[str, Any]:
    options = {"endpoint_url": bucket["endpoint_url"], "credentials_env": credentials_env}
    return {"name": name, "source_url": bucket["source_url"], "options": options}


async def test_rest_refuses_a_variable_not_allowed_at_add_and_at_use(
    api: Any, bucket: dict[str, Any], server_services: Services
) -> None:
    status, refused = await api(
        "datasets",
        method="POST",
        body=body(bucket, "stolen", key="ALLOWED_DS_KEY", secret="SERVER_OWN_SECRET"),
    )
    assert status == 400, refused
    assert refused["field"] == "options.credentials_env"
    assert "SERVER_OWN_SECRET" in refused["message"]
    assert SETTING in refused["message"]
    assert "the-servers-own-secret" not in json.dumps(refused)
    assert (await api("datasets/stolen"))[0] == 404  # nothing was recorded

    status, refused = await api(
        "datasets", method="POST", body=body(bucket, "db", secret="LABRIG_DATABASE_URL")
    )
    assert status == 400
    assert "LABRIG_DATABASE_URL" in refused["message"]

    allowed = body(bucket, "allowed", key="ALLOWED_DS_KEY", secret="ALLOWED_DS_SECRET")
    status, created = await api("datasets", method="POST", body=allowed)
    assert status == 201, created
    assert (await api("datasets/allowed/refresh", method="POST", body={}))[0] == 200

    # The administrator narrows the list: the dataset is refused where it would be read.
    server_services.datasets.cache.allowed_credentials_env = ["OTHER_*"]
    status, refused = await api("datasets/allowed/refresh", method="POST", body={})
    assert status == 400, refused
    assert "ALLOWED_DS_KEY" in refused["message"]
    assert SETTING in refused["message"]
    assert (await api("datasets/admin-ds/refresh", method="POST", body={}))[0] == 200


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The server's configuration as the CLI and ``labrig.datasets`` read it."""
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    settings = {
        "DatasetCache": {"allowed_credentials_env": ALLOWED, "mount_root": str(tmp_path / "m")}
    }
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(settings))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
    ds._catalog.cache_clear()
    yield
    ds._catalog.cache_clear()


def test_the_cli_and_the_python_api_refuse_a_variable_not_allowed(
    bucket: dict[str, Any], cli_config: None
) -> None:
    args = ["datasets", "add", "cli-stolen", bucket["source_url"]]
    args += ["--endpoint-url", bucket["endpoint_url"], "--credentials-env", "secret=AWS_X"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "AWS_X" in result.stderr
    assert SETTING in result.stderr

    with pytest.raises(InvalidInput, match="SERVER_OWN_SECRET") as caught:
        ds.add(
            "py-stolen",
            bucket["source_url"],
            endpoint_url=bucket["endpoint_url"],
            credentials_env={"secret": "SERVER_OWN_SECRET"},
        )
    assert SETTING in caught.value.message
    added = ds.add(
        "py-allowed",
        bucket["source_url"],
        endpoint_url=bucket["endpoint_url"],
        credentials_env={"key": "ALLOWED_DS_KEY", "secret": "ALLOWED_DS_SECRET"},
    )
    assert added["options"]["credentials"] == "environment"
    assert [d["name"] for d in ds.ls()] == ["py-allowed"]
