"""A bucket on moto's S3 server as a model store, spoken to as ``s3://`` (s3fs) or as ``oss://``
(ossfs through the OSS-dialect adapter in dataset_servers), and a log recorder."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import S3Server

#: Parts of 5 MiB (S3's smallest), so a test file of a few parts stays small.
PART = 5 * 1024 * 1024
#: The environment variables each store kind reads credentials from (key id, secret).
ENV_VARS = {
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "oss": ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET"),
}


@dataclass
class ObjectStore:
    """One bucket on the moto server, as a model store of ``kind`` whose credentials are in
    the store options (``creds`` == "options") or in the environment ("env")."""

    kind: str
    creds: str
    bucket: str
    server: S3Server
    key_id: str
    secret: str

    @property
    def url(self) -> str:
        return f"{self.kind}://{self.bucket}/labrig"

    def options(self) -> dict[str, Any]:
        endpoint = self.server.endpoint_url
        options: dict[str, Any] = {"default_block_size": PART}
        if self.kind == "s3":
            options["client_kwargs"] = {"endpoint_url": endpoint, "region_name": "us-east-1"}
            options["config_kwargs"] = {"retries": {"max_attempts": 1}}
        else:
            options["endpoint"] = endpoint
        if self.creds == "options":
            options.update(key=self.key_id, secret=self.secret)
        return options

    def settings(self) -> dict[str, Any]:
        return {"model_store_url": self.url, "model_store_options": self.options()}

    def write_config(self, path: Path) -> Path:
        """A jupyter_server_config.json naming this store, for the CLI and Python API."""
        path.write_text(json.dumps({"LabrigApp": self.settings()}))
        return path

    def keys(self) -> list[str]:
        listed = self.server.client.list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def pending_uploads(self) -> list[str]:
        listed = self.server.client.list_multipart_uploads(Bucket=self.bucket)
        return sorted(item["Key"] for item in listed.get("Uploads", []))

    def multipart(self, step: str) -> int:
        """Multipart requests of ``step`` (initiate, part, complete, abort) to this bucket."""
        prefix = f"/{self.bucket}/"
        counts = self.server.counter.multipart
        return sum(
            n for (kind, path), n in counts.items() if kind == step and path.startswith(prefix)
        )

    def refuse(self) -> None:
        """From now on the server refuses this store's access key id."""
        self.server.counter.refused_keys.add(self.key_id)


def make_object_store(
    kind: str, creds: str, server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> ObjectStore:
    tag = uuid.uuid4().hex[:12]
    store = ObjectStore(
        kind=kind,
        creds=creds,
        bucket=f"models-{kind}-{tag}",
        server=server,
        key_id=f"LRKEY{tag.upper()}",
        secret=f"planted-secret-{uuid.uuid4().hex}",
    )
    server.client.create_bucket(Bucket=store.bucket)
    for variables in ENV_VARS.values():
        for name in variables:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OSS_ENDPOINT", raising=False)
    if creds == "env":
        key_var, secret_var = ENV_VARS[kind]
        monkeypatch.setenv(key_var, store.key_id)
        monkeypatch.setenv(secret_var, store.secret)
    return store


class RecordingHandler(logging.Handler):
    """Keeps every record, formatted with its traceback, as the server log would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def server_config(data_dir: Path, store: ObjectStore) -> dict[str, Any]:
    """A Jupyter server with labrig whose model store is ``store``."""
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {"data_dir": str(data_dir), **store.settings()},
    }


def files_holding(root: Path, secret: str) -> list[str]:
    """Files under ``root`` (the database and its WAL included) whose bytes contain ``secret``."""
    needle = secret.encode()
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )
