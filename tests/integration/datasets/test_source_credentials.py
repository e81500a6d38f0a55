"""A dataset's credentials (named by ``options.credentials_env``) never leave the environment:
not into the database, the REST API's replies, the server's log or an error message, on
``s3://`` and ``oss://`` sources, whether the source serves or refuses them."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import S3Server, make_files

FILES = make_files(3, 20_000, seed=131)


def files_holding(root: Path, secret: str) -> list[Path]:
    """Files under ``root`` (the database and its WAL included) whose bytes hold ``secret``."""
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture
def jp_server_config(labrig_env: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {"data_dir": str(labrig_env)},
        "LocalDatasetCache": {
            "mount_root": str(tmp_path / "mounts"),
            "allowed_credentials_env": ["LEAK_TEST_*"],
        },
    }


@pytest.mark.parametrize("scheme", ["s3", "oss"])
async def test_a_planted_secret_appears_in_no_reply_log_row_or_error(
    scheme: str,
    api: Any,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    labrig_env: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    tag = uuid.uuid4().hex[:12]
    key_id, secret = f"DSKEY{tag.upper()}", f"planted-dataset-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("LEAK_TEST_KEY", key_id)
    monkeypatch.setenv("LEAK_TEST_SECRET", secret)
    bucket = f"leak-{scheme}-{tag}"
    s3_server.put_tree(bucket, {f"ds/{name}": data for name, data in FILES.items()})
    options = {
        "endpoint_url": s3_server.endpoint_url,
        "credentials_env": {"key": "LEAK_TEST_KEY", "secret": "LEAK_TEST_SECRET"},
    }
    replies: list[tuple[int, str]] = []

    async def call(path: str, **kwargs: Any) -> Any:
        status, body = await api(path, **kwargs)
        replies.append((status, json.dumps(body)))
        return status, body

    body = {"name": "leak-ds", "source_url": f"{scheme}://{bucket}/ds", "options": options}
    status, created = await call("datasets", method="POST", body=body)
    assert status == 201, created
    assert (await call("datasets/leak-ds/warm", method="POST", body={}))[0] == 202
    for _ in range(600):
        status, warm = await call("datasets/leak-ds/warm")
        if warm["state"] not in ("listing", "running"):
            break
        await asyncio.sleep(0.05)
    assert warm["state"] == "succeeded", warm
    await call("datasets")
    await call("datasets/leak-ds")
    await call("datasets/leak-ds/mount", method="POST", body={})
    await call("datasets/leak-ds/refresh", method="POST", body={})

    s3_server.counter.refused_keys.add(key_id)
    try:
        status, refused = await call("datasets/leak-ds/refresh", method="POST", body={})
        assert (status, refused["reason"]) == (403, "access_denied"), refused
        status, refused = await call(
            "datasets", method="POST", body={**body, "name": "leak-refused"}
        )
        assert (status, refused["reason"]) == (403, "access_denied"), refused
    finally:
        s3_server.counter.refused_keys.discard(key_id)

    assert all(status != 500 for status, _ in replies), replies
    assert [text for _, text in replies if secret in text] == []
    assert secret not in caplog.text
    assert await asyncio.to_thread(files_holding, labrig_env, secret) == []
